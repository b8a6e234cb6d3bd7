"""The injector runs as its readers' user, so the 0400 key files are theirs."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.core.user import InjectorUser, injector_user

DEFAULT = 65532


def container(**ctx: Any) -> dict[str, Any]:
    return {"name": "c", "securityContext": ctx} if ctx else {"name": "c"}


@pytest.mark.parametrize(
    ("pod", "consumers", "expected"),
    [
        # One non-root user (and group) among the readers: run as them, files 0400 theirs.
        (
            {},
            [container(runAsUser=1000, runAsGroup=2000)],
            InjectorUser(1000, 2000, "1000:2000", False, True),
        ),
        ({"runAsUser": 7}, [container(), container()], InjectorUser(7, None, "7", False, True)),
        ({"runAsUser": 7}, [container(runAsUser=8)], InjectorUser(8, None, "8", False, True)),
        # Readers disagree, or are root: the default uid, group-readable for an fsGroup.
        (
            {"fsGroup": 3000},
            [container(runAsUser=1), container(runAsUser=2)],
            InjectorUser(DEFAULT, None, f"{DEFAULT}:3000", True, False),
        ),
        (
            {"runAsUser": 0, "fsGroup": 5},
            [container()],
            InjectorUser(DEFAULT, None, f"{DEFAULT}:5", True, False),
        ),
        ({"runAsUser": 0}, [container()], InjectorUser(DEFAULT, None, str(DEFAULT), False, False)),
        # Malformed ids count as unknown, never as a user.
        (
            {"runAsUser": True, "fsGroup": "x"},
            [container()],
            InjectorUser(DEFAULT, None, str(DEFAULT), False, False),
        ),
        # No readers: the pod's own user.
        ({"runAsUser": 42, "runAsGroup": 43}, [], InjectorUser(42, 43, "42:43", False, True)),
    ],
)
def test_injector_user(pod: dict[str, Any], consumers: list[Any], expected: InjectorUser) -> None:
    spec = {"securityContext": pod} if pod else {}
    assert injector_user(spec, consumers, DEFAULT) == expected

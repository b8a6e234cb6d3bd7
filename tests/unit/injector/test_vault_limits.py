"""VAULT_CLIENT_TIMEOUT and VAULT_MAX_RETRIES, as Portworx's and Rook's Go client read them,
honoured by the injector's session inside its deadline (a scripted transport, a fake clock)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from injector.deadline import Deadline
from injector.errors import VaultError
from injector.vault import endpoints as ep
from injector.vault import session as vault
from injector.vault.schemas import Kv2Secret
from injector.vault.wire import Wire
from tests.unit.injector.vault_script import (
    Script,
    as_json,
    kv2_version,
    scripted_session,
    vault_settings,
)


def busy() -> Wire:
    """A 503 (transient) from Vault."""
    return as_json(503, {"errors": ["Vault is busy"]})


def found() -> Wire:
    return kv2_version({"key": "k"})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(vault.time, "sleep", fake.sleep)
    return fake


def read(clock: Clock, script: Script, seconds: float = 30, **settings: Any) -> Kv2Secret:
    chosen = dataclasses.replace(vault_settings(), **settings)
    s = scripted_session(script, Deadline(seconds, clock=clock), settings=chosen)
    value = s.call(ep.KV2_READ, "secret/data/x", what="reading secret/data/x")
    assert isinstance(value, Kv2Secret)
    return value


def test_max_retries_stops_retrying_before_the_deadline(clock: Clock) -> None:
    script = Script(*[busy() for _ in range(10)])

    with pytest.raises(VaultError) as raised:
        read(clock, script, max_retries=2)

    assert len(script.sent) == 3  # the first attempt and two retries
    assert str(raised.value) == (
        "reading secret/data/x: gave up after 2 retries (VAULT_MAX_RETRIES); last error: Vault "
        "answered 503: Vault is busy"
    )


def test_zero_retries_is_one_attempt_and_an_answer_in_time_still_wins(clock: Clock) -> None:
    with pytest.raises(VaultError, match="gave up after 0 retries"):
        read(clock, Script(busy(), found()), max_retries=0)
    assert read(clock, Script(busy(), found()), max_retries=1).data == {"key": "k"}


def test_without_max_retries_the_deadline_alone_ends_the_retries(clock: Clock) -> None:
    with pytest.raises(VaultError, match="gave up at the 5s deadline"):
        read(clock, Script(*[busy() for _ in range(500)]), seconds=5)


def test_client_timeout_shortens_each_attempt_but_never_outlasts_the_deadline(
    clock: Clock,
) -> None:
    short, long, unset = Script(found()), Script(found()), Script(found())

    read(clock, short, seconds=30, client_timeout=2.5)
    read(clock, long, seconds=30, client_timeout=600)
    read(clock, unset, seconds=30)

    assert short.timeouts == [2.5]
    assert long.timeouts == unset.timeouts
    assert unset.timeouts[0] <= 30

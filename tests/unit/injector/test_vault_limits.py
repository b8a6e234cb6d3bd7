"""VAULT_CLIENT_TIMEOUT and VAULT_MAX_RETRIES, as Portworx's and Rook's Go client read them,
honoured by the injector's session inside its deadline (a scripted transport, a fake clock)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from injector.deadline import Deadline
from injector.errors import VaultError
from injector.settings.model import TlsSettings, TokenAuth, VaultSettings
from injector.vault import session as vault
from injector.vault.replies import Answer, Outcome
from injector.vault.schemas import Endpoint, Kv2Secret
from injector.vault.session import VaultSession

SETTINGS = VaultSettings(
    addr="http://127.0.0.1:1",
    auth=TokenAuth("s.static-token-value"),
    auth_method="token",
    backend_path="secret",
    kv_version=2,
    namespace=None,
    tls=TlsSettings(None, None, None, None, None, False),
)
OK = Answer(Endpoint.KV2_READ, Outcome.OK, 200, Kv2Secret({"key": "k"}, 1, "", False, "t"))
BUSY = Answer(Endpoint.KV2_READ, Outcome.TRANSIENT, 503, reason="Vault answered 503")


class Transport:
    """Plays ``answers`` in order and records the timeout of each attempt."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.timeouts: list[float] = []

    def send(self, endpoint: Endpoint, method: str, path: str, **kw: Any) -> Answer:
        self.timeouts.append(kw["timeout"])
        return self.answers.pop(0)

    def close(self) -> None:
        pass


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


def read(clock: Clock, transport: Transport, seconds: float = 30, **settings: Any) -> Answer:
    s = VaultSession(dataclasses.replace(SETTINGS, **settings), Deadline(seconds, clock=clock))
    s.transport = transport  # type: ignore[assignment]  # a stand-in with the same send()
    return s.call(Endpoint.KV2_READ, "GET", "secret/data/x", what="reading secret/data/x")


def test_max_retries_stops_retrying_before_the_deadline(clock: Clock) -> None:
    transport = Transport(*[BUSY] * 10)

    with pytest.raises(VaultError) as raised:
        read(clock, transport, max_retries=2)

    assert len(transport.timeouts) == 3  # the first attempt and two retries
    assert str(raised.value) == (
        "reading secret/data/x: gave up after 2 retries (VAULT_MAX_RETRIES); last error: Vault "
        "answered 503"
    )


def test_zero_retries_is_one_attempt_and_an_answer_in_time_still_wins(clock: Clock) -> None:
    with pytest.raises(VaultError, match="gave up after 0 retries"):
        read(clock, Transport(BUSY, OK), max_retries=0)
    assert read(clock, Transport(BUSY, OK), max_retries=1) == OK


def test_without_max_retries_the_deadline_alone_ends_the_retries(clock: Clock) -> None:
    with pytest.raises(VaultError, match="gave up at the 5s deadline"):
        read(clock, Transport(*[BUSY] * 500), seconds=5)


def test_client_timeout_shortens_each_attempt_but_never_outlasts_the_deadline(
    clock: Clock,
) -> None:
    short, long, unset = Transport(OK), Transport(OK), Transport(OK)

    read(clock, short, seconds=30, client_timeout=2.5)
    read(clock, long, seconds=30, client_timeout=600)
    read(clock, unset, seconds=30)

    assert short.timeouts == [2.5]
    assert long.timeouts == unset.timeouts
    assert unset.timeouts[0] <= 30

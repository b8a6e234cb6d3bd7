"""The session's rules over the answer table, with a scripted transport and a fake clock.

What is retried (transient answers and connection failures, honouring Retry-After inside the
deadline), what is not (everything else), and when a rejected token earns one more login.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from injector.deadline import Deadline
from injector.errors import VaultError
from injector.redact import REDACTED, Redactor
from injector.settings.model import (
    AppRoleAuth,
    KubernetesAuth,
    TlsSettings,
    TokenAuth,
    VaultSettings,
)
from injector.vault import session as vault
from injector.vault.replies import Answer, Outcome
from injector.vault.schemas import Endpoint, Kv2Secret, Login, TokenInfo
from injector.vault.session import VaultSession
from injector.vault.transport import Failure

NO_TLS = TlsSettings(None, None, None, None, None, False)
SECRET = Kv2Secret({"key": "k"}, 1, "", False, "t")


def settings(auth: Any = None) -> VaultSettings:
    return VaultSettings(
        addr="http://127.0.0.1:1",
        auth=auth or TokenAuth("s.static-token-value"),
        auth_method="token" if auth is None else "approle",
        backend_path="secret",
        kv_version=2,
        namespace=None,
        tls=NO_TLS,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """A transport that plays answers in order and records what it was asked."""

    def __init__(self, *answers: Answer | Failure) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[Endpoint, str, str | None]] = []

    def send(self, endpoint: Endpoint, method: str, path: str, **kw: Any) -> Answer:
        self.sent.append((endpoint, path, kw["token"]))
        item = self.answers.pop(0)
        if isinstance(item, Failure):
            raise item
        return item

    def close(self) -> None:
        pass


def ok(endpoint: Endpoint = Endpoint.KV2_READ, value: Any = SECRET) -> Answer:
    return Answer(endpoint, Outcome.OK, 200, value)


def transient(retry_after: float | None = None) -> Answer:
    return Answer(
        Endpoint.KV2_READ,
        Outcome.TRANSIENT,
        429,
        reason="Vault answered 429",
        retry_after=retry_after,
    )


def denied(error: str = "permission denied", endpoint: Endpoint = Endpoint.KV2_READ) -> Answer:
    return Answer(
        endpoint,
        Outcome.DENIED,
        403,
        reason=f"Vault answered 403: {error}",
        errors=(error,),
        from_vault=True,
    )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(vault.time, "sleep", fake.sleep)
    return fake


def session(clock: Clock, script: Script, seconds: float = 10, auth: Any = None) -> VaultSession:
    s = VaultSession(settings(auth), Deadline(seconds, clock=clock))
    s.transport = script  # type: ignore[assignment]  # a stand-in with the same send()
    return s


def read(s: VaultSession) -> Answer:
    return s.call(Endpoint.KV2_READ, "GET", "secret/data/x", what="reading secret/data/x")


def test_the_callers_redactor_is_used_even_while_it_knows_nothing() -> None:
    """The run's final error line is scrubbed with the caller's redactor: the session must feed
    that one (an empty redactor swapped for a new one left a raced key in the line)."""
    mine = Redactor()
    s = VaultSession(settings(), Deadline(10), redactor=mine)

    assert s.redactor is mine
    assert mine.scrub("token s.static-token-value") == f"token {REDACTED}"


def test_a_transient_answer_is_retried_with_backoff(clock: Clock) -> None:
    script = Script(transient(), Failure("unreachable: reset", transient=True), ok())

    assert read(session(clock, script)).value == SECRET
    assert len(script.sent) == 3
    assert all(0 <= s <= 0.2 for s in clock.sleeps)


def test_retry_after_is_honoured_when_it_fits_inside_the_deadline(clock: Clock) -> None:
    script = Script(transient(retry_after=4), ok())

    read(session(clock, script, seconds=10))

    assert clock.sleeps == [4]


def test_a_retry_after_beyond_the_deadline_gives_up_at_once_saying_so(clock: Clock) -> None:
    script = Script(transient(retry_after=30), ok())

    with pytest.raises(VaultError, match=r"gave up at the 10s deadline.*retry after 30s"):
        read(session(clock, script, seconds=10))

    assert clock.sleeps == []
    assert len(script.sent) == 1


def test_transient_answers_are_retried_only_until_the_deadline(clock: Clock) -> None:
    script = Script(*[transient(retry_after=1) for _ in range(100)])

    with pytest.raises(VaultError, match="gave up at the 5s deadline; last error: Vault answered"):
        read(session(clock, script, seconds=5))

    assert clock.now <= 5
    assert 3 <= len(script.sent) <= 6


@pytest.mark.parametrize(
    "final",
    [
        Answer(Endpoint.KV2_READ, Outcome.FATAL, 200, reason="answered 200 with HTML"),
        Answer(Endpoint.KV2_READ, Outcome.FATAL, 307, reason="answered 307 redirecting"),
        Answer(Endpoint.KV2_READ, Outcome.NOT_FOUND, 404, reason="Vault answered 404"),
        Failure("TLS error: certificate verify failed", transient=False),
    ],
)
def test_anything_else_fails_at_once_without_a_retry(clock: Clock, final: Any) -> None:
    script = Script(final, ok())

    with pytest.raises(VaultError, match=r"^reading secret/data/x: (answered|Vault|TLS)"):
        read(session(clock, script))

    assert len(script.sent) == 1


def test_a_policy_denial_is_reported_as_it_is_for_a_static_token(clock: Clock) -> None:
    script = Script(denied())

    with pytest.raises(VaultError, match=r"403: permission denied \(the token's policy"):
        read(session(clock, script))


APPROLE = AppRoleAuth("role-id-value", "secret-id-value", "approle")
LOGIN_OK = ok(Endpoint.LOGIN, Login("hvs.first-token-abcdefghijkl", (), None))
RELOGIN_OK = ok(Endpoint.LOGIN, Login("hvs.second-token-abcdefghij", (), None))


def test_a_rejected_token_earns_exactly_one_more_login(clock: Clock) -> None:
    script = Script(
        LOGIN_OK,
        denied(),
        denied(endpoint=Endpoint.TOKEN_LOOKUP),  # lookup-self refused: the token itself is bad
        RELOGIN_OK,
        ok(),
    )
    s = session(clock, script, auth=APPROLE)
    s.login()

    assert read(s).value == SECRET
    assert [e for e, _, _ in script.sent] == [
        Endpoint.LOGIN,
        Endpoint.KV2_READ,
        Endpoint.TOKEN_LOOKUP,
        Endpoint.LOGIN,
        Endpoint.KV2_READ,
    ]
    assert script.sent[0][2] is None  # no token on a login
    assert script.sent[-1][2] == "hvs.second-token-abcdefghij"


def test_a_denial_with_a_valid_token_spends_no_login(clock: Clock) -> None:
    lookup = ok(Endpoint.TOKEN_LOOKUP, TokenInfo(("p",), 60))
    script = Script(LOGIN_OK, denied(), lookup)
    s = session(clock, script, auth=APPROLE)
    s.login()

    with pytest.raises(VaultError, match="permission denied"):
        read(s)

    assert [e for e, _, _ in script.sent].count(Endpoint.LOGIN) == 1


def test_the_login_token_and_the_credentials_join_the_redactor(clock: Clock) -> None:
    s = session(clock, Script(LOGIN_OK), auth=APPROLE)
    s.login()

    assert s.redactor.quote("secret-id-value hvs.first-token-abcdefghijkl") == (
        "[redacted] [redacted]"
    )


def test_a_jwt_path_swapped_for_a_fifo_fails_at_once(clock: Clock, tmp_path: Path) -> None:
    fifo = tmp_path / "token"
    os.mkfifo(fifo)
    s = session(clock, Script(), auth=KubernetesAuth("osd", fifo, "kubernetes"))

    with pytest.raises(VaultError, match=r"service-account token: .*token is a FIFO"):
        s.login()


def test_capabilities_of_one_path_accept_vaults_single_path_answer(clock: Clock) -> None:
    from injector.vault.schemas import Capabilities

    script = Script(ok(Endpoint.CAPABILITIES, Capabilities({"capabilities": frozenset({"read"})})))

    assert session(clock, script).capabilities(["kv/x"]) == {"kv/x": frozenset({"read"})}

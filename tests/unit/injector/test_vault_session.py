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
from injector.errors import VaultDenied, VaultError
from injector.redact import REDACTED, Redactor
from injector.settings.model import AppRoleAuth, KubernetesAuth
from injector.vault import endpoints as ep
from injector.vault import session as vault
from injector.vault.replies import Outcome, Reply
from injector.vault.schemas import Capabilities, Kv2Secret, Login, TokenInfo
from injector.vault.session import VaultSession
from injector.vault.transport import Failure
from tests.unit.injector.vault_script import Script, scripted_session, vault_settings

SECRET = Kv2Secret({"key": "k"}, 1, "", False, "t")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def ok(value: Any = SECRET) -> Reply[Any]:
    return Reply(Outcome.OK, 200, value)


def transient(retry_after: float | None = None) -> Reply[Any]:
    return Reply(Outcome.TRANSIENT, 429, reason="Vault answered 429", retry_after=retry_after)


def denied(error: str = "permission denied") -> Reply[Any]:
    return Reply(Outcome.DENIED, 403, reason=f"Vault answered 403: {error}", errors=(error,))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(vault.time, "sleep", fake.sleep)
    return fake


def session(clock: Clock, script: Script, seconds: float = 10, auth: Any = None) -> VaultSession:
    return scripted_session(script, Deadline(seconds, clock=clock), auth)


def read(s: VaultSession) -> Kv2Secret:
    found = s.call(ep.KV2_READ, "secret/data/x", what="reading secret/data/x")
    assert isinstance(found, Kv2Secret)
    return found


def test_the_callers_redactor_is_used_even_while_it_knows_nothing() -> None:
    """The run's final error line is scrubbed with the caller's redactor: the session must feed
    that one (an empty redactor swapped for a new one left a raced key in the line)."""
    mine = Redactor()
    s = VaultSession(vault_settings(), Deadline(10), redactor=mine)

    assert s.redactor is mine
    assert mine.scrub("token s.static-token-value") == f"token {REDACTED}"


def test_a_transient_answer_is_retried_with_backoff(clock: Clock) -> None:
    script = Script(transient(), Failure("unreachable: reset", transient=True), ok())

    assert read(session(clock, script)) == SECRET
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
        Reply(Outcome.FATAL, 200, reason="answered 200 with HTML"),
        Reply(Outcome.FATAL, 307, reason="answered 307 redirecting"),
        Reply(Outcome.CONFLICT, 400, reason="Vault answered 400: check-and-set"),
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
LOGIN_OK = ok(Login("hvs.first-token-abcdefghijkl"))
RELOGIN_OK = ok(Login("hvs.second-token-abcdefghij"))


def test_a_rejected_token_earns_exactly_one_more_login(clock: Clock) -> None:
    script = Script(
        LOGIN_OK,
        denied(),
        denied(),  # lookup-self refused: the token itself is bad
        RELOGIN_OK,
        ok(),
    )
    s = session(clock, script, auth=APPROLE)
    s.login()

    assert read(s) == SECRET
    assert script.endpoints == ["login", "KV v2 read", "token lookup", "login", "KV v2 read"]
    assert script.sent[0].token is None  # no token on a login
    assert script.sent[-1].token == "hvs.second-token-abcdefghij"


def test_a_denial_with_a_valid_token_spends_no_login(clock: Clock) -> None:
    lookup = ok(TokenInfo(("p",), 60))
    script = Script(LOGIN_OK, denied(), lookup)
    s = session(clock, script, auth=APPROLE)
    s.login()

    with pytest.raises(VaultDenied, match="permission denied"):
        read(s)

    assert script.endpoints.count("login") == 1


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
    script = Script(ok(Capabilities({"capabilities": frozenset({"read"})})))

    assert session(clock, script).capabilities(["kv/x"]) == {"kv/x": frozenset({"read"})}


def test_a_refusal_the_endpoint_admits_is_returned_typed_not_raised(clock: Clock) -> None:
    not_found = Reply[Any](Outcome.NOT_FOUND, 404, reason="Vault answered 404")
    script = Script(not_found, denied())
    s = session(clock, script)

    assert s.call(ep.KV2_READ, "secret/data/x", what="reading") == ep.NotFound(
        404, "Vault answered 404"
    )
    refused = s.call(ep.KV2_CREATE, "secret/data/x", what="creating", body={})
    assert refused == ep.Denied(
        403, "Vault answered 403: permission denied", ("permission denied",)
    )
    assert script.endpoints == ["KV v2 read", "KV v2 create"]  # no lookup-self, no re-login


def test_a_denial_the_endpoint_does_not_admit_is_a_vault_denied_error(clock: Clock) -> None:
    with pytest.raises(VaultDenied) as raised:
        session(clock, Script(denied())).call(ep.CAPABILITIES, "sys/x", what="asking")

    assert isinstance(raised.value, VaultError)
    assert str(raised.value) == (
        "asking: Vault answered 403: permission denied (the token's policy does not allow this)"
    )

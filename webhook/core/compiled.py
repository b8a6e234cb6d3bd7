"""What a profile injects, computed once when the profiles load, never per admission request.

The env entries, TLS volume and mounts depend only on the profile, so `compile_profile` builds them
once and every answer shares them (callers must not mutate them). The ``add .../env/-`` operations
for a container pointer are cached too: most objects of one kind have the same pointer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Final

from webhook.core import builders as b
from webhook.core import constants as c
from webhook.core import patch
from webhook.core.model import PatchOp
from webhook.core.profiles import Profile

Json = dict[str, Any]

MAX_CACHED_POINTERS: Final = 64
"""Env-append op lists kept per profile (one per container pointer seen; a handful in practice), so
a hostile object with huge container indexes cannot grow the cache."""


@dataclass(frozen=True)
class CompiledProfile:
    """A profile with the fragments it injects, built once."""

    profile: Profile
    """The profile as configured."""
    env: tuple[Json, ...]
    """The VAULT_* env entries, in `vsi_common.names.VAULT_SETTINGS` order."""
    env_names: frozenset[str]
    """Names of `env`."""
    tls_volume: Json | None
    """The pod volume of the TLS Secret; None without one."""
    tls_mount: Json | None
    """The read-only mount of `tls_volume`."""
    sc_tls_volume: Json | None
    """StorageCluster ``spec.volumes`` entry (the operator's volume shape) for the TLS Secret."""
    _env_appends: dict[str, tuple[PatchOp, ...]] = dataclasses.field(
        default_factory=dict, compare=False
    )

    def env_appends(self, base: str) -> tuple[PatchOp, ...]:
        """``add <base>/env/-`` for each of the profile's env entries, built once per pointer."""
        ops = self._env_appends.get(base)
        if ops is None:
            path = patch.join(base, "env") + "/-"
            ops = tuple(patch.add(path, entry) for entry in self.env)
            if len(self._env_appends) < MAX_CACHED_POINTERS:
                self._env_appends[base] = ops
        return ops


def compile_profile(profile: Profile) -> CompiledProfile:
    """The fragments ``profile`` injects."""
    env = tuple(b.connection_env(profile.connection))
    tls = profile.connection.tls_secret
    sc_tls = None
    if tls:
        sc_tls = {
            "name": c.TLS_VOLUME_NAME,
            "mountPath": c.TLS_MOUNT_PATH,
            "readOnly": True,
            "secret": {"secretName": tls},
        }
    return CompiledProfile(
        profile=profile,
        env=env,
        env_names=frozenset(e["name"] for e in env),
        tls_volume=b.tls_volume(tls) if tls else None,
        tls_mount=b.tls_mount() if tls else None,
        sc_tls_volume=sc_tls,
    )

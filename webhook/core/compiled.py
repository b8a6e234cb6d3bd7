"""What a profile injects, computed once when the profiles load, never per admission request.

The env entries, TLS volume and mounts depend on the profile and on the shape of its TLS files
(`webhook.core.tls`: which of the CA and the client pair exist, at most four combinations), so
`compile_profile` builds them for every shape once, and a request only looks its shape up in the
Secret cache and takes the prepared `Fragments` (callers must not mutate them). The ``add
.../env/-`` operations for a container pointer are cached too: most objects of one kind have the
same pointer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from vsi_common import names, vault_values
from webhook.core import builders as b
from webhook.core import constants as c
from webhook.core import patch, tls
from webhook.core.model import ClusterView, PatchOp
from webhook.core.profiles import Profile
from webhook.core.tls import NO_TLS, Shape

Json = dict[str, Any]

MAX_CACHED_POINTERS: Final = 64
"""Env-append op lists kept per profile and shape (one per container pointer seen; a handful in
practice), so a hostile object with huge container indexes cannot grow the cache."""


@dataclass(frozen=True)
class Fragments:
    """What a profile injects into an object whose TLS files have one shape, built once."""

    profile: Profile
    """The profile as configured."""
    shape: Shape
    """The TLS file settings whose files exist (empty without TLS material)."""
    env: tuple[Json, ...]
    """VAULT_* env for Portworx's container (which reads the TLS paths itself), in
    `vsi_common.names.ALL_SETTINGS` order: the settings Portworx reads, the paths of exactly the
    files of `shape`."""
    env_names: frozenset[str]
    """Names of `env`."""
    reconciled: frozenset[str]
    """`env_names` and the TLS file settings: an object with none of them needs only appends."""
    rook_env: tuple[Json, ...]
    """VAULT_* env for Rook's own containers (rook-kms): the settings Rook reads, without the
    address, the auth choice and the credentials, which Rook takes from the CephCluster
    (`builders.rook_env`)."""
    injector_env: tuple[Json, ...]
    """VAULT_* env for ``vsi-injector``: the settings it reads, no TLS paths (it finds the files
    in `tls_dir`)."""
    tls_dir: str | None
    """``VSI_TLS_DIR`` for the injector; None when there are no TLS files."""
    tls_volume: Json | None
    """The projected pod volume of the TLS files; None without files."""
    tls_mount: Json | None
    """The read-only mount of `tls_volume`."""
    sc_tls_volume: Json | None
    """StorageCluster ``spec.volumes`` entry (the operator's volume shape) for the TLS files."""
    vault_token_volume: Json | None = None
    """The injector's projected Vault token (audience ``tokenAudience``); None for a type that
    injects no injector, or a connection whose auth method is not kubernetes."""
    vault_token_mount: Json | None = None
    """The injector's read-only mount of `vault_token_volume`."""
    env_without_secret: tuple[Json, ...] = ()
    """`env` without the entries that refer to the connection Secret: what Portworx gets where
    it reads its px-vault itself, in another namespace (`webhook.core.rules.px`)."""
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


@dataclass(frozen=True)
class CompiledProfile:
    """A profile with its fragments for every TLS shape it can have."""

    profile: Profile
    """The profile as configured."""
    by_shape: Mapping[Shape, Fragments]
    """The fragments of each shape `webhook.core.tls.TlsSource.shapes` lists."""
    insecure: str | None = None
    """The setting that turns TLS (verification) off, which ``allowInsecure`` allowed (worked
    out once here, not per review)."""

    def fragments(self, namespace: str, cluster: ClusterView | None) -> Fragments:
        """The fragments for an object in ``namespace``: its TLS shape from the Secret cache
        (or the profile's declaration), at most three in-memory lookups."""
        source = self.profile.connection.tls
        return self.by_shape[source.resolve(namespace, cluster) if source else NO_TLS]


def compile_profile(profile: Profile) -> CompiledProfile:
    """The fragments ``profile`` injects, for each TLS shape."""
    source = profile.connection.tls
    token = profile.type in c.INJECTOR_TYPES and profile.connection.may_use_kubernetes_auth
    # The token path is the webhook's to set (where it mounts the token), never the profile's.
    injector_env = tuple(
        e
        for e in b.connection_env(profile.connection, reader=vault_values.INJECTOR)
        if e["name"] != names.VAULT_AUTH_KUBERNETES_TOKEN_PATH
    ) + ((b.vault_token_path_env(),) if token else ())
    token_volume = b.vault_token_volume(profile.connection.token_audience) if token else None
    by_shape: dict[Shape, Fragments] = {}
    for shape in source.shapes() if source else (NO_TLS,):
        env = tuple(b.connection_env(profile.connection, shape, vault_values.PORTWORX))
        files = source is not None and bool(shape)
        by_shape[shape] = Fragments(
            profile=profile,
            shape=shape,
            env=env,
            env_names=frozenset(e["name"] for e in env),
            reconciled=frozenset(e["name"] for e in env) | tls.OWNED_SETTINGS,
            rook_env=tuple(b.rook_env(profile.connection, shape)),
            injector_env=injector_env,
            tls_dir=c.TLS_MOUNT_PATH if files else None,
            tls_volume=b.tls_volume(source, shape) if source and shape else None,
            tls_mount=b.tls_mount() if files else None,
            sc_tls_volume=b.operator_tls_volume(source, shape) if source and shape else None,
            vault_token_volume=token_volume,
            vault_token_mount=b.vault_token_mount() if token else None,
            env_without_secret=tuple(
                e for e in env if not b.refers_to(e, profile.connection.secret)
            ),
        )
    return CompiledProfile(profile, by_shape, profile.connection.insecure)

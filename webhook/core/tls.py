"""TLS material for Vault: which files a profile's Secrets provide, and which exist in a namespace.

A profile names its TLS material in one of two ways: a ``tlsSecret`` (keys ``ca.crt``,
``tls.crt``, ``tls.key``) or Rook's ``connectionDetails``, whose ``VAULT_CACERT``,
``VAULT_CLIENT_CERT`` and ``VAULT_CLIENT_KEY`` name three Secrets with keys ``cert``, ``cert`` and
``key``. Either way the webhook projects the files into one directory under the names of
`vsi_common.names.TLS_FILES`, so one layout serves every container.

Storage containers (Portworx, Rook) read VAULT_CACERT and friends as paths and fail on a missing
file, so they may only be given files that will exist. Which ones do is the *shape*: the set of
file settings present, resolved per namespace from the webhook's Secret cache, and from what the
profile declares when the cache cannot tell (no cache, a Secret not watched, or not created yet).
A client certificate without its key (or the reverse) is never part of a shape. Pure.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import product
from typing import Final

from vsi_common import names
from webhook.core.model import ClusterView, SecretInfo

Shape = frozenset[str]
"""The VAULT_* file settings (`names.TLS_FILES`) whose files will exist in the TLS directory."""

FILE_NAMES: Final = dict(names.TLS_FILES)
"""VAULT_* file setting -> file name in the TLS directory."""
SETTINGS: Final = tuple(setting for setting, _ in names.TLS_FILES)
"""The three file settings, in CA, certificate, key order."""
CA: Final = names.VAULT_CACERT
"""The CA setting."""
OWNED_SETTINGS: Final = frozenset({*SETTINGS, names.VAULT_CAPATH})
"""The VAULT_* settings a profile's TLS material decides: its three files, and VAULT_CAPATH, a
second CA source (a node path in the Portworx manual) that would compete with ``ca.crt``."""
PAIR: Final = frozenset({names.VAULT_CLIENT_CERT, names.VAULT_CLIENT_KEY})
"""The client certificate and key: both present or neither."""
NO_TLS: Final[Shape] = frozenset()
"""The shape of a profile without TLS material (or a Secret that holds none of it)."""
ROOK_CERT_KEY: Final = "cert"
"""Data key of Rook's CA and client-certificate Secrets (VAULT_CACERT, VAULT_CLIENT_CERT)."""
ROOK_KEY_KEY: Final = "key"
"""Data key of Rook's client-key Secret (``VAULT_CLIENT_KEY``)."""
ROOK_KEYS: Final = {
    names.VAULT_CACERT: ROOK_CERT_KEY,
    names.VAULT_CLIENT_CERT: ROOK_CERT_KEY,
    names.VAULT_CLIENT_KEY: ROOK_KEY_KEY,
}
"""Rook's convention: the data key of the Secret each TLS setting names."""


@dataclass(frozen=True)
class TlsFile:
    """One file of the TLS directory and the Secret key it is projected from."""

    setting: str
    """``VAULT_CACERT``, ``VAULT_CLIENT_CERT`` or ``VAULT_CLIENT_KEY``."""
    secret: str
    """Name of the Secret that holds it (in the object's namespace)."""
    key: str
    """Data key of that Secret."""

    @property
    def path(self) -> str:
        """File name in the TLS directory (``ca.crt``, ``tls.crt`` or ``tls.key``)."""
        return FILE_NAMES[self.setting]


@dataclass(frozen=True)
class TlsSource:
    """A profile's TLS material: where each file comes from, and what the profile says exists."""

    files: tuple[TlsFile, ...]
    """The files the profile names, in `SETTINGS` order, at most one per setting."""
    declared: Shape
    """Settings assumed present when the Secret cache cannot tell (a subset of `files`)."""

    @property
    def secret_names(self) -> frozenset[str]:
        """Every Secret the files come from."""
        return frozenset(f.secret for f in self.files)

    @functools.cached_property
    def by_secret(self) -> tuple[tuple[str, tuple[TlsFile, ...]], ...]:
        """The files grouped by Secret, in file order (one cache lookup per Secret)."""
        groups: dict[str, list[TlsFile]] = {}
        for tls_file in self.files:
            groups.setdefault(tls_file.secret, []).append(tls_file)
        return tuple((secret, tuple(files)) for secret, files in groups.items())

    def shapes(self) -> tuple[Shape, ...]:
        """Every shape `resolve` can give: the CA or not, times the pair or not (at most four)."""
        named = {f.setting for f in self.files}
        ca = (False, True) if CA in named else (False,)
        pair = (False, True) if named >= PAIR else (False,)
        return tuple(
            frozenset({CA} if with_ca else set()) | (PAIR if with_pair else frozenset())
            for with_ca, with_pair in product(ca, pair)
        )

    def resolve(self, namespace: str, cluster: ClusterView | None) -> Shape:
        """The files that will exist for an object in ``namespace``.

        A Secret the cache knows gives exactly the keys it holds; otherwise (no cache, not
        watched, not created yet) the profile's declaration stands, never "everything".
        """
        if cluster is None or not namespace:
            return complete(self.declared)
        present: set[str] = set()
        for secret, files in self.by_secret:
            info = cluster.secret(namespace, secret)
            for tls_file in files:
                if isinstance(info, SecretInfo):
                    if tls_file.key in info.keys:
                        present.add(tls_file.setting)
                elif tls_file.setting in self.declared:
                    present.add(tls_file.setting)
        return complete(present)


def complete(settings: Iterable[str]) -> Shape:
    """``settings`` without half a client pair (a certificate is useless without its key)."""
    shape = frozenset(settings)
    return shape if shape >= PAIR else shape - PAIR


def secret_source(secret: str, keys: Iterable[str] = (names.TLS_CA_FILE,)) -> TlsSource:
    """A ``tlsSecret``: keys ``ca.crt``, ``tls.crt``, ``tls.key``; ``keys`` those it is said to
    hold (default the CA alone, the most common TLS: a private CA without client certificates)."""
    by_file = {file: setting for setting, file in names.TLS_FILES}
    files = tuple(TlsFile(setting, secret, file) for setting, file in names.TLS_FILES)
    return TlsSource(files, frozenset(by_file[k] for k in keys))


def rook_source(secrets: dict[str, str]) -> TlsSource:
    """Rook's TLS Secrets: ``secrets`` maps VAULT_CACERT / _CLIENT_CERT / _CLIENT_KEY to the
    Secret each names (data keys ``cert``, ``cert``, ``key``); every named one is declared."""
    files = tuple(
        TlsFile(setting, secrets[setting], ROOK_KEYS[setting])
        for setting in SETTINGS
        if setting in secrets
    )
    return TlsSource(files, frozenset(f.setting for f in files))

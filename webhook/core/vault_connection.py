"""``profiles[].connection``: parse and validate the three ways a profile reaches Vault.

- ``secret``: a px-vault style Secret (Portworx's manual); ``tlsSecret`` optional.
- ``values`` + ``tokenSecret``: plain VAULT_* settings and the token's Secret; ``tlsSecret``
  optional.
- ``kms``: Rook's ``security.kms`` block pasted verbatim (``connectionDetails`` with
  ``KMS_PROVIDER: vault``, TLS entries that name Secrets, and ``tokenSecretName``).

Credentials never come from the file, only from Secrets. With plain values the auth method is
known here, so what it needs is checked now rather than found missing in a crash-looping pod.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from vsi_common import names, validation
from webhook.core import constants as c
from webhook.core import tls as t
from webhook.core.fields import FieldReader, kind
from webhook.core.profiles import Connection, RookKms

CONNECTION_FIELDS: Final = ("secret", "values", "tokenSecret", "tlsSecret", "kms")
"""Keys of ``profiles[].connection``."""
TLS_SECRET_FIELDS: Final = ("name", "keys")
"""Keys of ``connection.tlsSecret`` in its long form."""
KMS_FIELDS: Final = ("connectionDetails", "tokenSecretName")
"""Keys of ``connection.kms`` (those of Rook's ``CephCluster.spec.security.kms``)."""
KMS_PROVIDER: Final = c.ROOK_KMS_PROVIDER_ENV
"""Rook's ``connectionDetails`` key naming the KMS; required, and `KMS_PROVIDER_VAULT` here."""
KMS_PROVIDER_VAULT: Final = c.ROOK_KMS_VAULT
"""The only `KMS_PROVIDER` this webhook speaks."""
CREDENTIAL_SETTINGS: Final = frozenset({names.VAULT_TOKEN, names.VAULT_APPROLE_SECRET_ID})
"""VAULT_* names that are credentials: never allowed in ``values`` or ``connectionDetails``."""
TLS_SETTINGS: Final = frozenset(t.SETTINGS)
"""VAULT_* file settings that Rook's TLS Secrets name."""
AUTH_METHODS: Final = ("token", "kubernetes", "approle")
"""VAULT_AUTH_METHOD values."""

_URL: Final = re.compile(r"^https?://[^\s/]+")


def parse_connection(reader: FieldReader, raw: Any, where: str) -> Connection:
    """``profiles[i].connection`` (at ``where``) as a validated `Connection`."""
    data = reader.mapping(raw, where, CONNECTION_FIELDS)
    if "kms" in data:
        for other in data:
            if other != "kms":
                raise reader.fail(
                    f"{where}.{other}",
                    "not allowed with 'kms' (Rook's block names its own Secrets)",
                )
        return _kms(reader, data["kms"], f"{where}.kms")
    has_secret, has_values = "secret" in data, "values" in data
    if has_secret == has_values:
        raise reader.fail(where, "expected exactly one of 'secret' or 'values' (or 'kms')")
    tls = (
        _tls_secret(reader, data["tlsSecret"], f"{where}.tlsSecret")
        if "tlsSecret" in data
        else None
    )
    if has_secret:
        if "tokenSecret" in data:
            raise reader.fail(
                f"{where}.tokenSecret", "only allowed with 'values' (the secret holds the token)"
            )
        return Connection(secret=reader.secret_name(data["secret"], f"{where}.secret"), tls=tls)
    token = (
        reader.secret_name(data["tokenSecret"], f"{where}.tokenSecret")
        if "tokenSecret" in data
        else None
    )
    values_where = f"{where}.values"
    raw_values = data["values"]
    if not isinstance(raw_values, Mapping):
        raise reader.fail(
            values_where, f"expected a mapping of VAULT_* settings, got {kind(raw_values)}"
        )
    found = {
        str(key): _plain(reader, key, value, f"{values_where}.{key}", "tlsSecret" if tls else None)
        for key, value in raw_values.items()
    }
    connection = Connection(
        values=_ordered(reader, found, values_where), token_secret=token, tls=tls
    )
    _check_auth(reader, connection, where, values_where, "tokenSecret")
    return connection


def _tls_secret(reader: FieldReader, raw: Any, where: str) -> t.TlsSource:
    """``tlsSecret: NAME`` (holding ``ca.crt``) or ``{name: NAME, keys: [...]}``."""
    if not isinstance(raw, Mapping):
        return t.secret_source(reader.secret_name(raw, where))
    data = reader.mapping(raw, where, TLS_SECRET_FIELDS)
    if "name" not in data:
        raise reader.fail(f"{where}.name", "required field is missing")
    name = reader.secret_name(data["name"], f"{where}.name")
    files = [file for _, file in names.TLS_FILES]
    keys = data.get("keys", [names.TLS_CA_FILE])
    expected = f"expected a list of {', '.join(files)}"
    if not isinstance(keys, list) or not keys or any(k not in files for k in keys):
        raise reader.fail(f"{where}.keys", expected)
    if len(set(keys)) != len(keys):
        raise reader.fail(f"{where}.keys", f"{expected}, each once")
    if (names.TLS_CERT_FILE in keys) != (names.TLS_KEY_FILE in keys):
        raise reader.fail(
            f"{where}.keys", f"{names.TLS_CERT_FILE} and {names.TLS_KEY_FILE} go together"
        )
    return t.secret_source(name, keys)


def _kms(reader: FieldReader, raw: Any, where: str) -> Connection:
    """Rook's ``security.kms`` block: ``connectionDetails`` and ``tokenSecretName``."""
    data = reader.mapping(raw, where, KMS_FIELDS)
    details_where = f"{where}.connectionDetails"
    if "connectionDetails" not in data:
        raise reader.fail(details_where, "required field is missing")
    details = data["connectionDetails"]
    if not isinstance(details, Mapping):
        raise reader.fail(
            details_where, f"expected Rook's mapping of settings, got {kind(details)}"
        )
    verbatim: list[tuple[str, str]] = []
    found: dict[str, str] = {}
    tls_secrets: dict[str, str] = {}
    for key, value in details.items():
        field = f"{details_where}.{key}"
        if key == KMS_PROVIDER:
            text = reader.setting(value, field)
            if text != KMS_PROVIDER_VAULT:
                raise reader.fail(field, "expected vault (the only KMS provider supported)")
        elif key in TLS_SETTINGS:
            text = reader.setting(value, field)
            if not validation.is_secret_name(text):
                raise reader.fail(
                    field,
                    f"expected the name of a Secret with key {t.ROOK_KEYS[str(key)]} "
                    "(Rook's convention)",
                )
            tls_secrets[str(key)] = text
        elif key == names.VAULT_CAPATH:
            raise reader.fail(field, "not supported by Rook; use VAULT_CACERT with a Secret name")
        else:
            text = _plain(reader, key, value, field, None)
            found[str(key)] = text
        verbatim.append((str(key), text))
    if KMS_PROVIDER not in details:
        raise reader.fail(f"{details_where}.{KMS_PROVIDER}", "required field is missing")
    cert, client_key = names.VAULT_CLIENT_CERT, names.VAULT_CLIENT_KEY
    if (cert in tls_secrets) != (client_key in tls_secrets):
        missing = client_key if cert in tls_secrets else cert
        raise reader.fail(f"{details_where}.{missing}", "required with the other half of the pair")
    token = (
        reader.secret_name(data["tokenSecretName"], f"{where}.tokenSecretName")
        if "tokenSecretName" in data
        else None
    )
    connection = Connection(
        values=_ordered(reader, found, details_where),
        token_secret=token,
        tls=t.rook_source(tls_secrets) if tls_secrets else None,
        kms=RookKms(tuple(verbatim), token),
    )
    _check_auth(reader, connection, where, details_where, "tokenSecretName")
    return connection


def _plain(reader: FieldReader, key: Any, value: Any, where: str, tls_by: str | None) -> str:
    """One plain VAULT_* setting: a known name, no credential, no TLS file set elsewhere."""
    if key in CREDENTIAL_SETTINGS:
        raise reader.fail(
            where, "credentials may only come from a Secret (use tokenSecret or secret)"
        )
    if key not in names.VAULT_SETTINGS:
        raise reader.fail(where, "unknown field (expected a VAULT_* setting name)")
    if tls_by and key in t.OWNED_SETTINGS:
        raise reader.fail(where, f"set by {tls_by}; remove it or the {tls_by}")
    return reader.setting(value, where)


def _ordered(
    reader: FieldReader, found: Mapping[str, str], where: str
) -> tuple[tuple[str, str], ...]:
    """The settings in `names.VAULT_SETTINGS` order, after checking VAULT_ADDR."""
    addr = found.get(names.VAULT_ADDR)
    if addr is None:
        raise reader.fail(f"{where}.{names.VAULT_ADDR}", "required field is missing")
    if not _URL.match(addr):
        raise reader.fail(f"{where}.{names.VAULT_ADDR}", "expected an http:// or https:// URL")
    return tuple((name, found[name]) for name in names.VAULT_SETTINGS if name in found)


def _check_auth(
    reader: FieldReader, connection: Connection, where: str, values_where: str, token_field: str
) -> None:
    """What the auth method of plain values needs is there (credentials come from Secrets)."""
    method = connection.auth_method
    method_where = f"{values_where}.{names.VAULT_AUTH_METHOD}"
    if method is None:
        raise reader.fail(
            where, f"no credentials: add {token_field} (token auth) or VAULT_AUTH_METHOD kubernetes"
        )
    if method not in AUTH_METHODS:
        raise reader.fail(method_where, f"expected one of {', '.join(AUTH_METHODS)}")
    if method == "token" and connection.token_secret is None:
        raise reader.fail(method_where, f"token auth needs {token_field} (the token's Secret)")
    if method == "kubernetes" and names.VAULT_AUTH_KUBERNETES_ROLE not in dict(connection.values):
        raise reader.fail(
            f"{values_where}.{names.VAULT_AUTH_KUBERNETES_ROLE}",
            "required with VAULT_AUTH_METHOD kubernetes",
        )
    if method == "approle":
        raise reader.fail(
            method_where,
            "approle needs VAULT_APPROLE_SECRET_ID, which only a px-vault style 'secret' may hold",
        )

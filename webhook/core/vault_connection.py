"""``profiles[].connection``: the three ways a profile reaches Vault, declared as data.

- ``secret``: a px-vault style Secret (Portworx's manual); ``tlsSecret`` optional.
- ``values`` + ``tokenSecret``: plain VAULT_* settings and the token's Secret; ``tlsSecret``
  optional.
- ``kms``: Rook's ``security.kms`` block pasted verbatim (``connectionDetails`` with
  ``KMS_PROVIDER: vault``, TLS entries that name Secrets, and ``tokenSecretName``).

`CONNECTION` is read by `webhook.core.config` and written into the chart's values.schema.json
by ``python -m tools.profile_schema``: one declaration for both. Credentials never come from the
file, only from Secrets. With plain values the auth method is known here, so what it needs is
checked now rather than found missing in a crash-looping pod.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from vsi_common import names, vault_values
from vsi_common import values as values_
from webhook.core import constants as c
from webhook.core import tls as t
from webhook.core.fields import (
    DNS_LABEL,
    SECRET_NAME,
    Choice,
    Converted,
    FieldReader,
    Flag,
    JsonSchema,
    Node,
    SchemaContext,
    Setting,
    Text,
)
from webhook.core.mappings import Data, Either, Field, Record, Rule
from webhook.core.profiles import Connection, RookKms, auth_method
from webhook.core.record_rules import KeysNotWith, Kind, Kinds, Together, required
from webhook.core.vault_readers import PORTWORX_TYPES, PortworxReads, setting_types

KMS_PROVIDER: Final = c.ROOK_KMS_PROVIDER_ENV
"""Rook's ``connectionDetails`` key naming the KMS; required, and `KMS_PROVIDER_VAULT` here."""
KMS_PROVIDER_VAULT: Final = c.ROOK_KMS_VAULT
"""The only `KMS_PROVIDER` this webhook speaks."""
CREDENTIAL_SETTINGS: Final = frozenset({names.VAULT_TOKEN, names.VAULT_APPROLE_SECRET_ID})
"""VAULT_* names that are credentials: never allowed in ``values`` or ``connectionDetails``."""
PLAIN_SETTINGS: Final = tuple(n for n in names.ALL_SETTINGS if n not in CREDENTIAL_SETTINGS)
"""The VAULT_* settings a profile may give as values, in `names.ALL_SETTINGS` order."""
TLS_SETTINGS: Final = frozenset(t.SETTINGS)
"""VAULT_* file settings that Rook's TLS Secrets name."""
AUTH_METHODS: Final = ("token", "kubernetes", "approle")
"""VAULT_AUTH_METHOD values."""
CREDENTIALS_PROBLEM: Final = "credentials may only come from a Secret (use tokenSecret or secret)"
"""Why VAULT_TOKEN and VAULT_APPROLE_SECRET_ID are refused as values."""
ALLOW_INSECURE: Final = "allowInsecure"
"""The connection field that lets a profile turn TLS (verification) off."""
SETTING: Final = Setting(ref="setting")
"""A VAULT_* setting without a rule of its own: any non-empty string (or number)."""


def _shared(name: str) -> Node:
    """The node of a setting from `vsi_common.vault_values.RULES`: a choice of words, a pattern,
    or (without either) `SETTING`. What some reader takes is checked here; what every reader
    of a profile type takes, by `ReadersTake` on the profile."""
    rule = vault_values.RULES[name]
    if rule.choices:
        return Choice(
            (*rule.accepted(), *rule.refused),
            setting=True,
            expected=rule.expected(),
            refused=rule.refused,
        )
    if rule.pattern is not None:
        return Setting(rule.pattern, rule.takes, check=rule.check)
    return SETTING


VALUE_RULES: Final[Mapping[str, Node]] = {
    **{n: _shared(n) for n in names.ALL_SETTINGS if _shared(n) is not SETTING},
    names.VAULT_ADDR: Setting(
        vault_values.ADDR_PATTERN, vault_values.RULES[names.VAULT_ADDR].takes, ref="vaultAddr"
    ),
    names.VAULT_AUTH_METHOD: Choice(
        AUTH_METHODS,
        setting=True,
        fold_case=True,
        refused={
            "approle": "approle needs VAULT_APPROLE_SECRET_ID, which only a px-vault style "
            "'secret' may hold"
        },
    ),
}
"""What a VAULT_* setting takes, in ``values`` and Rook's ``connectionDetails`` alike, where it is
more than `SETTING`: the shared rules of `vsi_common.vault_values` (the injector reads by them
too), and the auth methods a profile may name."""
ROOK_TLS: Final[Mapping[str, Node]] = {
    setting: Setting(secret_key=t.ROOK_KEYS[setting], ref="tlsSecretName") for setting in t.SETTINGS
}
"""Rook's TLS settings: each names a Secret (with data key ``cert``, ``cert`` or ``key``)."""


def _setting_fields(settings: Sequence[str], own: Mapping[str, Node]) -> tuple[Field, ...]:
    """A field per setting; VAULT_ADDR required; a setting no client of some type reads is
    declared for the other types only."""
    return tuple(
        Field(
            n,
            own[n] if n in own else VALUE_RULES.get(n, SETTING),
            required=n == names.VAULT_ADDR,
            types=setting_types(n),
        )
        for n in settings
    )


def _ordered(found: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Plain settings in `names.ALL_SETTINGS` order."""
    return tuple((name, found[name]) for name in names.ALL_SETTINGS if name in found)


@dataclass(frozen=True)
class KeyFiles(Node):
    """``tlsSecret.keys``: which of the TLS files the Secret holds, each once, the pair together."""

    def read(self, reader: FieldReader, value: Any, where: str) -> tuple[str, ...]:
        files = [file for _, file in names.TLS_FILES]
        expected = f"expected a list of {', '.join(files)}"
        if not isinstance(value, list) or not value or any(k not in files for k in value):
            raise reader.fail(where, expected)
        if len(set(value)) != len(value):
            raise reader.fail(where, f"{expected}, each once")
        if (names.TLS_CERT_FILE in value) != (names.TLS_KEY_FILE in value):
            raise reader.fail(where, f"{names.TLS_CERT_FILE} and {names.TLS_KEY_FILE} go together")
        return tuple(value)

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        pair = (names.TLS_CERT_FILE, names.TLS_KEY_FILE)
        return {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "enum": [file for _, file in names.TLS_FILES]},
            "allOf": [
                {"if": {"contains": {"const": a}}, "then": {"contains": {"const": b}}}
                for a, b in (pair, pair[::-1])
            ],
        }


@dataclass(frozen=True)
class AuthNeeds(Rule):
    """What the auth method of plain ``settings`` needs is there (credentials come from Secrets):
    token auth (the default with a ``token`` Secret) that Secret, kubernetes auth a role."""

    settings: str
    """The field holding the VAULT_* settings."""
    token: str
    """The field naming the token's Secret."""

    def after(
        self, record: Record, reader: FieldReader, data: Data, values: Data, where: str
    ) -> None:
        if self.settings not in values:
            return
        found: Mapping[str, str] = values[self.settings]
        method = auth_method(found, has_token=self.token in values)
        settings_where = f"{where}.{self.settings}"
        if method is None:
            raise reader.fail(
                where,
                f"no credentials: add {self.token} (token auth) or VAULT_AUTH_METHOD kubernetes",
            )
        if method == "token" and self.token not in values:
            raise reader.fail(
                f"{settings_where}.{names.VAULT_AUTH_METHOD}",
                f"token auth needs {self.token} (the token's Secret)",
            )
        if method == "kubernetes" and names.VAULT_AUTH_KUBERNETES_ROLE not in found:
            raise reader.fail(
                f"{settings_where}.{names.VAULT_AUTH_KUBERNETES_ROLE}",
                "required with VAULT_AUTH_METHOD kubernetes",
            )

    def schema(self, record: Record, ctx: SchemaContext) -> list[JsonSchema]:
        method = names.VAULT_AUTH_METHOD

        def with_method(value: str) -> JsonSchema:
            chosen = {**required(method), "properties": {method: {"const": value}}}
            return {**required(self.settings), "properties": {self.settings: chosen}}

        role = {"properties": {self.settings: required(names.VAULT_AUTH_KUBERNETES_ROLE)}}
        return [
            {
                "if": required(self.settings),
                "then": {
                    "anyOf": [
                        required(self.token),
                        {"properties": {self.settings: required(method)}},
                    ]
                },
            },
            {"if": with_method("token"), "then": required(self.token)},
            {"if": with_method("kubernetes"), "then": role},
        ]


@dataclass(frozen=True)
class InsecureAllowed(Rule):
    """Settings that turn TLS or its verification off (`vault_values.insecure_setting`) only
    with ``flag`` true: an insecure profile is said so in the file, never by accident."""

    flag: str
    """The boolean field that allows it."""
    places: tuple[tuple[str, ...], ...]
    """Paths (from this record) of the VAULT_* mappings to look at."""

    def after(
        self, record: Record, reader: FieldReader, data: Data, values: Data, where: str
    ) -> None:
        if values.get(self.flag):
            return
        for place in self.places:
            found: Any = data
            for key in place:
                found = found.get(key) if isinstance(found, Mapping) else None
            if not isinstance(found, Mapping):
                continue
            settings = {k: str(v) for k, v in found.items() if isinstance(v, str | int)}
            bad = vault_values.insecure_setting(settings)
            if bad is not None:
                what = (
                    "is plain http://" if bad == names.VAULT_ADDR else "turns TLS verification off"
                )
                raise reader.fail(
                    ".".join((where, *place, bad)),
                    f"{what}; allowed only with connection.{self.flag}: true",
                )

    def schema(self, record: Record, ctx: SchemaContext) -> list[JsonSchema]:
        out: list[JsonSchema] = []
        bad: tuple[tuple[str, JsonSchema], ...] = (
            (names.VAULT_ADDR, {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp]://"}),
            (names.VAULT_SKIP_VERIFY, {"enum": list(values_.GO_TRUE_WORDS)}),
        )
        for place in self.places:
            for name, matches in bad:
                cond: JsonSchema = {**required(name), "properties": {name: matches}}
                for key in reversed(place):
                    cond = {**required(key), "properties": {key: cond}}
                allow = {**required(self.flag), "properties": {self.flag: {"const": True}}}
                out.append({"if": cond, "then": allow})
        return out


VALUES: Final = Record(
    _setting_fields(PLAIN_SETTINGS, {}),
    refused=dict.fromkeys(sorted(CREDENTIAL_SETTINGS), CREDENTIALS_PROBLEM),
    expected="a mapping of VAULT_* settings",
    unknown="unknown field (expected a VAULT_* setting name)",
    doc="Plain VAULT_* settings (never VAULT_TOKEN or VAULT_APPROLE_SECRET_ID: credentials come "
    "from Secrets); VAULT_ADDR required.",
    ref="vaultValues",
)
"""``connection.values``: plain VAULT_* settings."""


def _long_tls_secret(name: str, keys: Sequence[str] = (names.TLS_CA_FILE,)) -> t.TlsSource:
    return t.secret_source(name, keys)


TLS_SECRET: Final = Either(
    Converted(SECRET_NAME, t.secret_source),
    Record(
        (Field("name", SECRET_NAME, required=True), Field("keys", KeyFiles())), _long_tls_secret
    ),
    doc="A Secret name (holding ca.crt), or {name, keys}.",
    ref="tlsSecret",
)
"""``connection.tlsSecret``: ``NAME`` (holding ``ca.crt``) or ``{name: NAME, keys: [...]}``."""


def _kms_connection(details: Mapping[str, str], token: str | None = None) -> Connection:
    """Rook's block as a `Connection`: plain values, Rook's TLS Secrets, the token Secret."""
    tls = {key: value for key, value in details.items() if key in TLS_SETTINGS}
    plain = {k: v for k, v in details.items() if k != KMS_PROVIDER and k not in TLS_SETTINGS}
    return Connection(
        values=_ordered(plain),
        token_secret=token,
        tls=t.rook_source(tls) if tls else None,
        kms=RookKms(tuple(details.items()), token),
    )


KMS_DETAILS: Final = Record(
    (
        Field(
            KMS_PROVIDER,
            Choice(
                (KMS_PROVIDER_VAULT,),
                setting=True,
                expected=f"{KMS_PROVIDER_VAULT} (the only KMS provider supported)",
            ),
            required=True,
        ),
        *_setting_fields([n for n in PLAIN_SETTINGS if n != names.VAULT_CAPATH], ROOK_TLS),
    ),
    rules=(Together((names.VAULT_CLIENT_CERT, names.VAULT_CLIENT_KEY)),),
    refused={
        **dict.fromkeys(sorted(CREDENTIAL_SETTINGS), CREDENTIALS_PROBLEM),
        names.VAULT_CAPATH: "not supported by Rook; use VAULT_CACERT with a Secret name",
    },
    expected="Rook's mapping of settings",
    unknown="unknown field (expected a VAULT_* setting name)",
    doc="Rook's connectionDetails: KMS_PROVIDER vault, VAULT_* settings; VAULT_CACERT, "
    "VAULT_CLIENT_CERT, VAULT_CLIENT_KEY name Secrets (keys cert, cert, key); no VAULT_CAPATH, "
    "no credentials.",
    ref="kmsConnectionDetails",
)
"""``connection.kms.connectionDetails``: Rook's settings, verbatim."""
KMS: Final = Record(
    (
        Field("connectionDetails", KMS_DETAILS, required=True, attr="details"),
        Field(
            "tokenSecretName",
            SECRET_NAME,
            "Secret whose key token holds VAULT_TOKEN.",
            attr="token",
        ),
    ),
    _kms_connection,
    rules=(AuthNeeds("connectionDetails", "tokenSecretName"),),
    doc="Rook's CephCluster spec.security.kms, verbatim.",
    ref="kms",
)
"""``connection.kms``: Rook's ``security.kms`` block."""


def _connection(
    secret: str | None = None,
    values: Mapping[str, str] | None = None,
    token_secret: str | None = None,
    tls: t.TlsSource | None = None,
    kms: Connection | None = None,
    secret_namespace: str | None = None,
    token_audience: str = c.DEFAULT_TOKEN_AUDIENCE,
    allow_insecure: bool = False,
) -> Connection:
    if kms is not None:
        return replace(kms, token_audience=token_audience, allow_insecure=allow_insecure)
    if secret is not None:
        return Connection(
            secret=secret,
            tls=tls,
            secret_namespace=secret_namespace,
            token_audience=token_audience,
            allow_insecure=allow_insecure,
        )
    return Connection(
        values=_ordered(values or {}),
        token_secret=token_secret,
        tls=tls,
        token_audience=token_audience,
        allow_insecure=allow_insecure,
    )


TOKEN_AUDIENCE: Final = Text(
    rf"^\S{{1,{c.MAX_TOKEN_AUDIENCE}}}$",
    f"an audience: 1 to {c.MAX_TOKEN_AUDIENCE} characters without spaces",
    c.MAX_TOKEN_AUDIENCE,
    ref="tokenAudience",
)
"""``connection.tokenAudience``: the audience the Vault role requires (``vault`` by default)."""


CONNECTION: Final = Record(
    (
        Field(
            "secret", SECRET_NAME, "px-vault style Secret: every VAULT_* key becomes an env entry."
        ),
        Field("values", VALUES),
        Field(
            "tokenSecret",
            SECRET_NAME,
            "With values: the Secret whose key token holds VAULT_TOKEN.",
            attr="token_secret",
        ),
        Field("tlsSecret", TLS_SECRET, attr="tls"),
        Field("kms", KMS),
        Field(
            "secretNamespace",
            DNS_LABEL,
            "With secret px-vault: the namespace Portworx reads it from (default Portworx's: "
            "PX_SECRETS_NAMESPACE, else portworx, else the StorageCluster's).",
            attr="secret_namespace",
            types=PORTWORX_TYPES,
        ),
        Field(
            "tokenAudience",
            TOKEN_AUDIENCE,
            f"Audience of vsi-injector's own projected service-account token (kubernetes auth; "
            f"default {c.DEFAULT_TOKEN_AUDIENCE}); the Vault role must require it.",
            attr="token_audience",
            types=c.INJECTOR_TYPES,
        ),
        Field(
            ALLOW_INSECURE,
            Flag(),
            "Let the values use an http:// VAULT_ADDR or VAULT_SKIP_VERIFY true (each mutation "
            "then warns and is counted); default false: such a profile is refused.",
            attr="allow_insecure",
        ),
    ),
    _connection,
    rules=(
        Kinds(
            (
                Kind(
                    "secret",
                    ("tlsSecret", "secretNamespace", "tokenAudience", ALLOW_INSECURE),
                    why="the secret holds the token",
                ),
                Kind("values", ("tokenSecret", "tlsSecret", "tokenAudience", ALLOW_INSECURE)),
                Kind(
                    "kms",
                    ("tokenAudience", ALLOW_INSECURE),
                    alone=True,
                    why="Rook's block names its own Secrets",
                ),
            )
        ),
        KeysNotWith("values", "tlsSecret", t.OWNED_SETTINGS),
        AuthNeeds("values", "tokenSecret"),
        PortworxReads(),
        InsecureAllowed(ALLOW_INSECURE, (("values",), ("kms", "connectionDetails"))),
    ),
    doc="How the profile reaches Vault: secret (px-vault style), or values + tokenSecret, or kms "
    "(Rook's block); tlsSecret optional with the first two.",
    ref="connection",
)
"""``profiles[].connection``: which fields each kind takes, and what they mean together."""

"""The profiles model: what a validated profiles file (or the built-in defaults) says.

Profiles are data a cluster admin controls (a YAML file mounted from a ConfigMap). They say which
objects get which Vault connection; per-object annotations may only pick one of them by name, so
addresses and credentials never come from a tenant. `webhook.core.config` parses and validates the
file into these frozen dataclasses; the rules only ever see valid ones. Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from vsi_common import names, vault_values
from webhook.core import constants as c
from webhook.core.tls import TlsSource


@dataclass(frozen=True)
class Resources:
    """Requests and limits of the injected init container, as Kubernetes quantity strings."""

    requests: tuple[tuple[str, str], ...] = tuple(c.DEFAULT_REQUESTS.items())
    limits: tuple[tuple[str, str], ...] = tuple(c.DEFAULT_LIMITS.items())


@dataclass(frozen=True)
class InjectorSettings:
    """``injector:``: how the key-injector init container is run."""

    image: str = field(default_factory=c.default_image)
    """Image of the init container; default this project's image at the package version."""
    image_pull_policy: str = c.DEFAULT_IMAGE_PULL_POLICY
    """``Always``, ``IfNotPresent`` or ``Never``."""
    run_as_user: int = c.DEFAULT_RUN_AS_USER
    """Non-zero uid used when the consuming pod names no non-root user."""
    resources: Resources = Resources()
    """Small requests and limits."""


@dataclass(frozen=True)
class KeyVolume:
    """``keyVolume:``: the in-memory volume the injector writes keys to."""

    size_limit: str = c.DEFAULT_KEY_SIZE_LIMIT
    """``emptyDir.sizeLimit`` (a Kubernetes quantity)."""
    mount_path: str = c.DEFAULT_KEY_MOUNT_PATH
    """Absolute path where the key files appear."""


@dataclass(frozen=True)
class RookKms:
    """Rook's ``security.kms`` block as pasted into ``connection.kms`` (verbatim, validated)."""

    connection_details: tuple[tuple[str, str], ...]
    """``connectionDetails`` as given (values trimmed), in file order, ``KMS_PROVIDER`` included."""
    token_secret_name: str | None
    """``tokenSecretName``: the Secret whose key ``token`` is VAULT_TOKEN; None without one."""


@dataclass(frozen=True)
class Connection:
    """How the target reaches Vault: a px-vault style Secret, or plain values + a token Secret.

    Rook's ``kms`` block is the second kind: its ``connectionDetails`` give `values` (the TLS
    entries, which name Secrets, give `tls`) and its ``tokenSecretName`` gives `token_secret`.
    """

    secret: str | None = None
    """px-vault style Secret: every VAULT_* key becomes an env entry (optional but VAULT_ADDR)."""
    values: tuple[tuple[str, str], ...] = ()
    """Plain VAULT_* settings (never credentials, never TLS files), in
    `vsi_common.names.ALL_SETTINGS` order."""
    token_secret: str | None = None
    """Secret whose key ``token`` becomes VAULT_TOKEN (with ``values``)."""
    tls: TlsSource | None = None
    """Where the TLS files come from (``tlsSecret``, or Rook's three Secrets); None without TLS."""
    kms: RookKms | None = None
    """Rook's block when the connection was given as ``kms`` (the fields above derive from it)."""
    secret_namespace: str | None = None
    """With a ``secret`` called px-vault: the namespace Portworx reads it from through the API;
    None: Portworx's own default (`webhook.core.rules.px`)."""
    token_audience: str = c.DEFAULT_TOKEN_AUDIENCE
    """``tokenAudience``: the audience of the injector's projected service-account token, which
    the Vault role must require (kubernetes auth)."""
    allow_insecure: bool = False
    """``allowInsecure``: the values may turn TLS or its verification off (every mutation that
    uses the profile then warns and is counted)."""

    @property
    def insecure(self) -> str | None:
        """The plain setting that turns TLS (verification) off (`vault_values.insecure_setting`);
        None when none does or the values live in a Secret."""
        return vault_values.insecure_setting(dict(self.values))

    @property
    def secret_names(self) -> frozenset[str]:
        """Every Secret this connection references."""
        tls = self.tls.secret_names if self.tls else frozenset()
        return frozenset(s for s in (self.secret, self.token_secret) if s) | tls

    @property
    def auth_method(self) -> str | None:
        """The auth method plain values choose (``token`` when only a token Secret is given);
        None for a px-vault style Secret, whose values the webhook never sees."""
        if self.secret is not None:
            return None
        return auth_method(dict(self.values), has_token=self.token_secret is not None)

    @property
    def may_use_kubernetes_auth(self) -> bool:
        """Whether the injector may log in with kubernetes auth (and so needs its Vault token):
        always with a px-vault style Secret, whose values the webhook never sees."""
        return self.auth_method in (None, "kubernetes")


def auth_method(settings: Mapping[str, str], *, has_token: bool) -> str | None:
    """The auth method plain ``settings`` choose, in lower case: their VAULT_AUTH_METHOD, else
    ``token`` when a token Secret is named; None without either."""
    method = settings.get(names.VAULT_AUTH_METHOD, "").lower()
    return method or ("token" if has_token else None)


OP_IN: Final = "In"
OP_NOT_IN: Final = "NotIn"
OP_EXISTS: Final = "Exists"
OP_DOES_NOT_EXIST: Final = "DoesNotExist"
OPERATORS: Final = (OP_IN, OP_NOT_IN, OP_EXISTS, OP_DOES_NOT_EXIST)
"""The operators of a LabelSelector requirement."""
WITH_VALUES: Final = frozenset({OP_IN, OP_NOT_IN})
"""Operators that need a non-empty ``values``; the others refuse one."""


@dataclass(frozen=True)
class Requirement:
    """One ``matchExpressions`` entry."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy it, as Kubernetes decides."""
        if self.operator == OP_EXISTS:
            return self.key in labels
        if self.operator == OP_DOES_NOT_EXIST:
            return self.key not in labels
        found = self.key in labels and labels[self.key] in self.values
        return found if self.operator == OP_IN else not found

    def __str__(self) -> str:
        if self.operator == OP_EXISTS:
            return self.key
        if self.operator == OP_DOES_NOT_EXIST:
            return f"!{self.key}"
        word = "in" if self.operator == OP_IN else "notin"
        return f"{self.key} {word} ({','.join(self.values)})"


@dataclass(frozen=True)
class LabelSelector:
    """A validated LabelSelector: every term must hold (none: every namespace)."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy every term."""
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            r.matches(labels) for r in self.match_expressions
        )

    def __str__(self) -> str:
        """kubectl's selector syntax: ``a=b,c in (d,e),!f``."""
        terms = [f"{k}={v}" for k, v in self.match_labels]
        return ",".join([*terms, *(str(r) for r in self.match_expressions)])


@dataclass(frozen=True)
class Profile:
    """One named rule: a profile type (what to match and inject) and its Vault connection."""

    name: str
    type: str
    connection: Connection
    namespaces: tuple[str, ...] | None = None
    """``namespaces``: the only namespaces it serves (empty: none); None: not bound by name."""
    namespace_selector: LabelSelector | None = None
    """``namespaceSelector``: labels a namespace it serves carries; None: not bound by labels."""

    def serves(self, namespace: str, labels: Mapping[str, str] | None) -> bool | None:
        """Whether it serves ``namespace`` (both bounds must hold); None when only the unknown
        ``labels`` (no namespace cache) could tell, which callers treat as not served."""
        if self.namespaces is not None and namespace not in self.namespaces:
            return False
        if self.namespace_selector is None:
            return True
        return None if labels is None else self.namespace_selector.matches(labels)

    @property
    def bounds(self) -> str | None:
        """The namespaces it serves, in words (for warnings); None when it serves every one."""
        said = []
        if self.namespaces is not None:
            said.append(f"namespaces {', '.join(self.namespaces) or '(none)'}")
        if self.namespace_selector is not None:
            said.append(f"namespaces labelled {self.namespace_selector or '(anything)'}")
        return " and ".join(said) or None


@dataclass(frozen=True)
class Config:
    """A validated profiles file (or the built-in defaults)."""

    injector: InjectorSettings = InjectorSettings()
    key_volume: KeyVolume = KeyVolume()
    profiles: tuple[Profile, ...] = ()
    """Configured profiles first (file order), then the built-ins they do not override."""
    source: str = "<built-in>"
    """Where the config came from, for logs."""

    @property
    def secret_names(self) -> frozenset[str]:
        """Names of every Secret the profiles reference (the server's Secret cache watches them)."""
        out: set[str] = set()
        for profile in self.profiles:
            out |= profile.connection.secret_names
        return frozenset(out)

    def profile(self, name: str) -> Profile | None:
        """The profile called ``name``, or None."""
        for profile in self.profiles:
            if profile.name == name:
                return profile
        return None


BUILTIN_PROFILES: Final = (
    Profile(c.TYPE_PORTWORX, c.TYPE_PORTWORX, Connection(secret=c.DEFAULT_PX_SECRET)),
    Profile(
        c.TYPE_PORTWORX_OPERATOR, c.TYPE_PORTWORX_OPERATOR, Connection(secret=c.DEFAULT_PX_SECRET)
    ),
    Profile(c.TYPE_ROOK_OSD, c.TYPE_ROOK_OSD, Connection(secret=c.DEFAULT_ROOK_SECRET)),
    Profile(c.TYPE_ROOK_KMS, c.TYPE_ROOK_KMS, Connection(secret=c.DEFAULT_ROOK_SECRET)),
    Profile(
        c.TYPE_VOLUME_KEYS, c.TYPE_VOLUME_KEYS, Connection(secret=c.DEFAULT_VOLUME_KEYS_SECRET)
    ),
)
"""The profiles a webhook with no config file uses; a configured profile of the same name wins."""


def default_config() -> Config:
    """The built-in configuration: default injector settings and the built-in profiles."""
    return Config(profiles=BUILTIN_PROFILES)

"""The injector's settings as frozen dataclasses: what a validated run is told, nothing else.

`injector.settings.flags` (flags and ``VSI_*``) and `injector.settings.vault_env` (``VAULT_*``)
build them; the run and the Vault session only read them. Pure: standard library only, so any layer
may import the model, the exit-2 path included, without loading a client library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit

SERVICE_ACCOUNT_DIR: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")
"""Where Kubernetes mounts the pod's service-account token and namespace files."""
POD_NAMESPACE: Final = "POD_NAMESPACE"
"""Conventional downward-API variable for the pod's namespace; the fallback after VSI_NAMESPACE."""
DEFAULT_DEADLINE: Final = 60.0
"""Seconds for the whole run, retries included, when neither --deadline nor VSI_DEADLINE is set."""
MAX_DEADLINE: Final = 3600.0
"""Longest deadline accepted; an init container that waits longer hides an outage."""
DEFAULT_BACKEND_PATH: Final = "secret"
"""KV mount when VAULT_BACKEND_PATH is unset."""
DEFAULT_KUBERNETES_MOUNT: Final = "kubernetes"
"""Auth mount for VAULT_AUTH_METHOD=kubernetes when VAULT_AUTH_MOUNT_PATH is unset."""
DEFAULT_APPROLE_MOUNT: Final = "approle"
"""Auth mount for VAULT_AUTH_METHOD=approle when VAULT_AUTH_MOUNT_PATH is unset."""

AuthMethod = Literal["token", "kubernetes", "approle"]
"""The VAULT_AUTH_METHOD values."""


@dataclass(frozen=True)
class TokenAuth:
    """Authenticate with a static token."""

    token: str = field(repr=False)
    """The Vault token (secret: never logged)."""


@dataclass(frozen=True)
class KubernetesAuth:
    """Authenticate with the pod's service-account JWT through Vault's kubernetes auth method."""

    role: str
    """Vault role bound to the service account."""
    jwt_path: Path
    """File holding the JWT (re-read on every login: projected tokens rotate)."""
    mount: str
    """Auth method mount path, e.g. ``kubernetes``."""
    jwt: str | None = field(default=None, repr=False)
    """The JWT itself when the caller holds it in memory (``vsi-webhook doctor`` gets one from a
    TokenRequest); then `jwt_path` only says where it came from and is not read. Secret."""


@dataclass(frozen=True)
class AppRoleAuth:
    """Authenticate with an AppRole role_id and secret_id."""

    role_id: str = field(repr=False)
    """The AppRole role_id."""
    secret_id: str = field(repr=False)
    """The AppRole secret_id (secret: never logged)."""
    mount: str
    """Auth method mount path, e.g. ``approle``."""


Auth = TokenAuth | KubernetesAuth | AppRoleAuth


@dataclass(frozen=True)
class TlsSettings:
    """How to verify the Vault server and authenticate to it with a client certificate."""

    cacert: Path | None
    """PEM bundle of CAs (VAULT_CACERT)."""
    capath: Path | None
    """Directory of hash-named CA certificates (VAULT_CAPATH)."""
    client_cert: Path | None
    """Client certificate for mutual TLS (VAULT_CLIENT_CERT)."""
    client_key: Path | None
    """Client key for mutual TLS (VAULT_CLIENT_KEY)."""
    server_name: str | None
    """Name to verify and send as SNI instead of the VAULT_ADDR host (VAULT_TLS_SERVER_NAME)."""
    skip_verify: bool
    """Do not verify the server certificate (VAULT_SKIP_VERIFY; logged as a warning)."""


@dataclass(frozen=True)
class Origin:
    """Where every request to Vault goes: the scheme, host and port of ``VAULT_ADDR``."""

    scheme: str
    """``http`` or ``https``."""
    host: str
    """Host name or IP address, without brackets."""
    port: int
    """The port given, else 443 or 80."""
    prefix: str
    """Path prefix before ``/v1`` (without a trailing slash), usually empty."""

    @property
    def url(self) -> str:
        """``scheme://host:port`` (an IPv6 host in brackets), for messages."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{shown}:{self.port}"


@dataclass(frozen=True)
class VaultSettings:
    """Where Vault is, how to log in and which KV mount holds the keys."""

    addr: str
    """Base URL without a trailing slash."""
    auth: Auth
    """How to authenticate."""
    auth_method: AuthMethod
    """Name of the auth method, for logs."""
    backend_path: str
    """KV mount path without slashes at the ends."""
    kv_version: int | None
    """1 or 2 when VAULT_BACKEND says so; None means detect it from the mount."""
    namespace: str | None
    """Vault/OpenBao namespace sent on every request."""
    tls: TlsSettings
    """TLS verification and client certificate."""
    client_timeout: float | None = None
    """Longest wait for one request, in seconds (VAULT_CLIENT_TIMEOUT; never beyond the
    deadline); None: the transport's own limits."""
    max_retries: int | None = None
    """Retries of one failed request (VAULT_MAX_RETRIES); None: until the deadline."""

    @property
    def origin(self) -> Origin:
        """The scheme, host and port of `addr` (which `injector.settings.vault_env` checked)."""
        parts = urlsplit(self.addr)
        host = parts.hostname
        assert host is not None
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return Origin(parts.scheme, host, port, parts.path.rstrip("/"))

    @property
    def server_name(self) -> str:
        """The name Vault's certificate is checked for: VAULT_TLS_SERVER_NAME, else the host."""
        return self.tls.server_name or self.origin.host


@dataclass(frozen=True)
class Settings:
    """Everything one run of the injector needs, validated."""

    layout: str
    """``rook`` or ``volume-keys``."""
    volumes: tuple[str, ...]
    """PVC names, in the order given, without duplicates."""
    output_dir: Path | None
    """Existing directory that receives the key files; None only for a ``--check`` without one."""
    namespace: str | None
    """Namespace of the PVCs (for volume-keys templates with {namespace} and PV lookups)."""
    seed: bytes | None = field(repr=False)
    """rook layout: the key text from Rook's Secret, stored in Vault once when Vault has none."""
    seed_file: Path | None
    """Where the seed came from, for messages."""
    verify_luks: Path | None
    """Device or file whose LUKS header the key must unlock before it is written."""
    deadline: float
    """Seconds for the whole run, retries included."""
    key_path_template: str
    """volume-keys secret path template."""
    kube_fields: bool
    """True when the template needs the bound PV ({pv} or {volume_handle})."""
    file_uid: int | None
    """Owner of the key files; None keeps the injector's own user."""
    file_gid: int | None
    """Group of the key files; None keeps the injector's own group."""
    group_readable: bool
    """Key files mode 0440 instead of 0400."""
    log_format: str
    """``json`` or ``text``."""
    vault: VaultSettings
    """Vault connection and auth."""
    kv1_allow_overwrite: bool = False
    """KV v1: create keys with a token that may update them (VSI_KV1_ALLOW_OVERWRITE_POLICY)."""

"""The ``VAULT_*`` variables into `VaultSettings`: the names Portworx and Rook read, checked here.

One small function per concern (address, auth method, KV mount and version, secret engine, Vault
namespace, TLS, timeouts), each naming the variable it blames. Values are trimmed. What a value
may be is `vsi_common.vault_values`' rule, the one the webhook loads profiles by, so a profile the
webhook took never fails here on a value. Nothing here talks to
the network; the JWT and certificate files are checked to exist so that a missing mount fails
with exit code 2. The one ``VSI_*`` name read here, VSI_TLS_DIR, is where the webhook mounts the
TLS files: those found there fill the VAULT_* file settings left unset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from injector import layouts
from injector.errors import SettingsError, SettingsErrors, collect
from injector.settings.model import (
    DEFAULT_APPROLE_MOUNT,
    DEFAULT_BACKEND_PATH,
    DEFAULT_KUBERNETES_MOUNT,
    AppRoleAuth,
    Auth,
    AuthMethod,
    KubernetesAuth,
    TlsSettings,
    TokenAuth,
    VaultSettings,
)
from injector.settings.parsers import existing_file, fail, path_is
from vsi_common import names, validation, values, vault_values

_HEADER_SAFE: Final = re.compile(r"^[\x21-\x7e]+$")
_NO_AUTH: Final[tuple[AuthMethod, Auth]] = ("token", TokenAuth(""))
_NO_TLS: Final = TlsSettings(None, None, None, None, None, skip_verify=False)
KUBECTL_HINT: Final = (
    "outside a pod, make one: kubectl create token <service-account> -n <namespace> "
    "--audience vault > token, then pass --token-file token"
)
"""How to log in with kubernetes auth from a laptop (the pod's token file is not there)."""


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _mount_path(value: str, name: str) -> str:
    mount = value.strip("/")
    problem = layouts.check_secret_path(mount)
    if problem is not None:
        fail(name, f"expected a mount path such as 'secret', {problem}")
    return mount


def _header_value(value: str, name: str) -> str:
    if not _HEADER_SAFE.match(value):
        fail(name, "expected printable characters without spaces")
    return value


def _valid_host(host: str) -> bool:
    if validation.is_hostname(host, underscores=True, trailing_dot=True):
        return True
    import ipaddress  # only for addresses that are not DNS names

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _vault_addr(env: Mapping[str, str]) -> str:
    """VAULT_ADDR: an http(s) URL with a DNS name or IP host, without a trailing slash."""
    addr = _get(env, names.VAULT_ADDR).rstrip("/")
    if not addr:
        fail(names.VAULT_ADDR, "required, expected an http or https URL such as https://vault:8200")
    if "@" in addr.partition("://")[2].partition("/")[0]:
        # Refused before any message quotes the address: the user part may hold a password.
        fail(
            names.VAULT_ADDR,
            "expected scheme://host[:port][/prefix] without user, query or fragment",
        )
    try:
        parts = urlsplit(addr)
        host = parts.hostname
    except ValueError as exc:
        fail(names.VAULT_ADDR, f"expected an http or https URL, got {addr!r} ({exc})")
    if parts.scheme not in ("http", "https") or not host:
        fail(names.VAULT_ADDR, f"expected an http or https URL with a host, got {addr!r}")
    if not _valid_host(host):
        fail(names.VAULT_ADDR, f"expected a DNS name or IP address as host, got {host!r}")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        fail(names.VAULT_ADDR, f"port must be 1-65535, got {_port_text(addr)!r} in {addr!r}")
    if parts.query or parts.fragment or parts.username is not None:
        fail(
            names.VAULT_ADDR,
            "expected scheme://host[:port][/prefix] without user, query or fragment",
        )
    _shared(names.VAULT_ADDR, addr)
    return addr


def _port_text(addr: str) -> str:
    """What stands after the host's colon in ``addr`` (for the port error)."""
    netloc = addr.partition("://")[2].partition("/")[0]
    return netloc.rpartition("]")[2].rpartition(":")[2] if ":" in netloc else ""


def _shared(name: str, value: str) -> str:
    """``value`` when `vsi_common.vault_values` takes it from the injector (one line otherwise)."""
    problem = vault_values.problem(name, value, {vault_values.INJECTOR})
    if problem is not None:
        fail(name, f"{problem}, got {value[:60]!r}" if problem.startswith("expected") else problem)
    return value


def _jwt_path(env: Mapping[str, str], service_account_dir: Path, token_file: str | None) -> Path:
    """--token-file, else VAULT_AUTH_KUBERNETES_TOKEN_PATH, else the pod's service-account token."""
    if token_file is not None and token_file.strip():
        value, name = token_file.strip(), "--token-file"
    else:
        value = _get(env, names.VAULT_AUTH_KUBERNETES_TOKEN_PATH)
        name = names.VAULT_AUTH_KUBERNETES_TOKEN_PATH
    if not value:
        value = str(service_account_dir / "token")
        if not path_is(Path(value), name, Path.is_file):
            fail(name, f"unset, and the pod's token {value!r} is not here; {KUBECTL_HINT}")
    return existing_file(value, name)


def _kubernetes_auth(
    env: Mapping[str, str], service_account_dir: Path, token_file: str | None
) -> KubernetesAuth:
    role = _get(env, names.VAULT_AUTH_KUBERNETES_ROLE)
    if not role:
        fail(names.VAULT_AUTH_KUBERNETES_ROLE, "required with VAULT_AUTH_METHOD=kubernetes")
    jwt_path = _jwt_path(env, service_account_dir, token_file)
    mount = _mount_path(
        _get(env, names.VAULT_AUTH_MOUNT_PATH) or DEFAULT_KUBERNETES_MOUNT,
        names.VAULT_AUTH_MOUNT_PATH,
    )
    return KubernetesAuth(role=role, jwt_path=jwt_path, mount=mount)


def _approle_auth(env: Mapping[str, str]) -> AppRoleAuth:
    role_id = _get(env, names.VAULT_APPROLE_ROLE_ID)
    secret_id = _get(env, names.VAULT_APPROLE_SECRET_ID)
    if not role_id:
        fail(names.VAULT_APPROLE_ROLE_ID, "required with VAULT_AUTH_METHOD=approle")
    if not secret_id:
        fail(names.VAULT_APPROLE_SECRET_ID, "required with VAULT_AUTH_METHOD=approle")
    mount = _mount_path(
        _get(env, names.VAULT_AUTH_MOUNT_PATH) or DEFAULT_APPROLE_MOUNT,
        names.VAULT_AUTH_MOUNT_PATH,
    )
    return AppRoleAuth(role_id=role_id, secret_id=secret_id, mount=mount)


def _auth(
    env: Mapping[str, str], service_account_dir: Path, token_file: str | None = None
) -> tuple[AuthMethod, Auth]:
    """VAULT_AUTH_METHOD (``token`` when only VAULT_TOKEN is set) and its credentials."""
    token = _get(env, names.VAULT_TOKEN)
    method = _get(env, names.VAULT_AUTH_METHOD).lower() or ("token" if token else "")
    if method == "token":
        if not token:
            fail(names.VAULT_TOKEN, "required with VAULT_AUTH_METHOD=token, expected a Vault token")
        return "token", TokenAuth(_header_value(token, names.VAULT_TOKEN))
    if method == "kubernetes":
        return "kubernetes", _kubernetes_auth(env, service_account_dir, token_file)
    if method == "approle":
        return "approle", _approle_auth(env)
    if not method:
        fail(
            names.VAULT_TOKEN,
            "no credentials: set VAULT_TOKEN or VAULT_AUTH_METHOD=kubernetes|approle",
        )
    raise SettingsError(
        f"{names.VAULT_AUTH_METHOD}: expected token, kubernetes or approle, got {method!r}"
    )


def _backend_path(env: Mapping[str, str]) -> str:
    """VAULT_BACKEND_PATH: the KV mount, default ``secret``."""
    return _mount_path(
        _get(env, names.VAULT_BACKEND_PATH) or DEFAULT_BACKEND_PATH, names.VAULT_BACKEND_PATH
    )


def _kv_version(env: Mapping[str, str]) -> int | None:
    """VAULT_BACKEND as a KV version (Portworx's or Rook's spelling, any case); None: detect."""
    backend = _get(env, names.VAULT_BACKEND).lower()
    if not backend:
        return None
    problem = vault_values.problem(names.VAULT_BACKEND, backend, {vault_values.INJECTOR})
    if problem is not None:
        fail(names.VAULT_BACKEND, f"{problem} (or unset to detect), got {backend!r}")
    return vault_values.KV_VERSIONS[backend]


def _check_secret_engine(env: Mapping[str, str]) -> None:
    """VAULT_SECRET_ENGINE: only ``kv`` (or unset) holds volume keys."""
    engine = _get(env, names.VAULT_SECRET_ENGINE).lower()
    if engine:
        _shared(names.VAULT_SECRET_ENGINE, engine)


def _client_timeout(env: Mapping[str, str]) -> float | None:
    """VAULT_CLIENT_TIMEOUT in seconds (whole seconds or a Go duration); None: unset or 0."""
    value = _get(env, names.VAULT_CLIENT_TIMEOUT)
    if not value:
        return None
    seconds = vault_values.client_timeout_seconds(_shared(names.VAULT_CLIENT_TIMEOUT, value))
    return seconds or None


def _max_retries(env: Mapping[str, str]) -> int | None:
    """VAULT_MAX_RETRIES, retries of one request; None: unset (retry until the deadline)."""
    value = _get(env, names.VAULT_MAX_RETRIES)
    return int(_shared(names.VAULT_MAX_RETRIES, value)) if value else None


def _vault_namespace(env: Mapping[str, str]) -> str | None:
    """VAULT_NAMESPACE without slashes at the ends; None when unset."""
    namespace = _get(env, names.VAULT_NAMESPACE).strip("/") or None
    if namespace is not None and layouts.check_secret_path(namespace) is not None:
        fail(
            names.VAULT_NAMESPACE,
            f"expected a namespace path such as 'team1' or 'a/b', got {namespace!r}",
        )
    return namespace


def _tls_dir(env: Mapping[str, str]) -> dict[str, Path]:
    """The files found in VSI_TLS_DIR (the webhook mounts the TLS files there), by VAULT_* name.

    The directory holds whichever of ``ca.crt``, ``tls.crt`` and ``tls.key`` the Secrets provide;
    half a client pair is refused, as it is in the VAULT_* settings.
    """
    value = _get(env, names.VSI_TLS_DIR)
    if not value:
        return {}
    directory = Path(value)
    if not path_is(directory, names.VSI_TLS_DIR, Path.is_dir):
        fail(names.VSI_TLS_DIR, f"expected the directory of the TLS files, {value!r} is not one")
    found = {
        setting: existing_file(str(directory / file), names.VSI_TLS_DIR)
        for setting, file in names.TLS_FILES
        if path_is(directory / file, names.VSI_TLS_DIR, Path.exists)
    }
    cert, key = names.VAULT_CLIENT_CERT, names.VAULT_CLIENT_KEY
    if (cert in found) != (key in found):
        have, lacks = (names.TLS_CERT_FILE, names.TLS_KEY_FILE)
        if key in found:
            have, lacks = lacks, have
        fail(names.VSI_TLS_DIR, f"{value!r} holds {have} but no {lacks}: a client pair needs both")
    return found


def _client_pair(
    env: Mapping[str, str], discovered: Mapping[str, Path]
) -> tuple[Path | None, Path | None]:
    cert_s, key_s = _get(env, names.VAULT_CLIENT_CERT), _get(env, names.VAULT_CLIENT_KEY)
    if bool(cert_s) != bool(key_s):
        missing = names.VAULT_CLIENT_KEY if cert_s else names.VAULT_CLIENT_CERT
        fail(missing, "required when the other half of the client certificate pair is set")
    if not cert_s:
        return discovered.get(names.VAULT_CLIENT_CERT), discovered.get(names.VAULT_CLIENT_KEY)
    return existing_file(cert_s, names.VAULT_CLIENT_CERT), existing_file(
        key_s, names.VAULT_CLIENT_KEY
    )


def _tls(env: Mapping[str, str]) -> TlsSettings:
    """VAULT_CACERT, VAULT_CAPATH, the client pair, VAULT_TLS_SERVER_NAME, VAULT_SKIP_VERIFY.

    Files found in VSI_TLS_DIR fill the settings left unset: the CA when neither VAULT_CACERT
    nor VAULT_CAPATH is set, the client pair when neither half is.
    """
    discovered = _tls_dir(env)
    cacert_s, capath_s = _get(env, names.VAULT_CACERT), _get(env, names.VAULT_CAPATH)
    cacert = existing_file(cacert_s, names.VAULT_CACERT) if cacert_s else None
    capath: Path | None = None
    if capath_s:
        capath = Path(capath_s)
        if not path_is(capath, names.VAULT_CAPATH, Path.is_dir):
            fail(
                names.VAULT_CAPATH,
                f"expected a directory of CA certificates, {capath_s!r} is not one",
            )
    if cacert is None and capath is None:
        cacert = discovered.get(names.VAULT_CACERT)
    client_cert, client_key = _client_pair(env, discovered)
    server_name = _get(env, names.VAULT_TLS_SERVER_NAME) or None
    if server_name is not None and not validation.is_hostname(server_name):
        fail(names.VAULT_TLS_SERVER_NAME, f"expected a DNS name, got {server_name!r}")
    skip = _get(env, names.VAULT_SKIP_VERIFY)
    skip_verify = bool(skip) and values.parse_go_bool(_shared(names.VAULT_SKIP_VERIFY, skip))
    return TlsSettings(cacert, capath, client_cert, client_key, server_name, skip_verify)


def parse_vault(
    env: Mapping[str, str], service_account_dir: Path, token_file: str | None = None
) -> VaultSettings:
    """The VAULT_* settings; validates everything and reads nothing from the network.

    Every setting is checked, in a fixed order (address, auth, mount, version, engine, namespace,
    TLS, timeouts); `SettingsErrors` holds every bad one. ``token_file`` (``--token-file``)
    overrides VAULT_AUTH_KUBERNETES_TOKEN_PATH.
    """
    problems: list[str] = []
    addr = collect(problems, "", lambda: _vault_addr(env))
    method, auth = collect(problems, _NO_AUTH, lambda: _auth(env, service_account_dir, token_file))
    backend_path = collect(problems, "", lambda: _backend_path(env))
    kv_version = collect(problems, None, lambda: _kv_version(env))
    collect(problems, None, lambda: _check_secret_engine(env))
    namespace = collect(problems, None, lambda: _vault_namespace(env))
    tls = collect(problems, _NO_TLS, lambda: _tls(env))
    client_timeout = collect(problems, None, lambda: _client_timeout(env))
    max_retries = collect(problems, None, lambda: _max_retries(env))
    if problems:
        raise SettingsErrors(tuple(problems))
    return VaultSettings(
        addr=addr,
        auth=auth,
        auth_method=method,
        backend_path=backend_path,
        kv_version=kv_version,
        namespace=namespace,
        tls=tls,
        client_timeout=client_timeout,
        max_retries=max_retries,
    )

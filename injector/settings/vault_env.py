"""The ``VAULT_*`` variables into `VaultSettings`: the names Portworx and Rook read, checked here.

One small function per concern (address, auth method, KV mount and version, secret engine, Vault
namespace, TLS), each naming the variable it blames. Values are trimmed. Nothing here talks to
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
from injector.errors import SettingsError
from injector.settings.model import (
    DEFAULT_APPROLE_MOUNT,
    DEFAULT_BACKEND_PATH,
    DEFAULT_KUBERNETES_MOUNT,
    KV_VERSIONS,
    AppRoleAuth,
    Auth,
    AuthMethod,
    KubernetesAuth,
    TlsSettings,
    TokenAuth,
    VaultSettings,
)
from injector.settings.parsers import existing_file, fail, parse_bool, path_is
from vsi_common import names, validation

_HEADER_SAFE: Final = re.compile(r"^[\x21-\x7e]+$")


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
        _ = parts.port
    except ValueError:
        fail(names.VAULT_ADDR, f"the port in {addr!r} is not a number")
    if parts.query or parts.fragment or parts.username is not None:
        fail(
            names.VAULT_ADDR,
            "expected scheme://host[:port][/prefix] without user, query or fragment",
        )
    return addr


def _kubernetes_auth(env: Mapping[str, str], service_account_dir: Path) -> KubernetesAuth:
    role = _get(env, names.VAULT_AUTH_KUBERNETES_ROLE)
    if not role:
        fail(names.VAULT_AUTH_KUBERNETES_ROLE, "required with VAULT_AUTH_METHOD=kubernetes")
    jwt_path = existing_file(
        _get(env, names.VAULT_AUTH_KUBERNETES_TOKEN_PATH) or str(service_account_dir / "token"),
        names.VAULT_AUTH_KUBERNETES_TOKEN_PATH,
    )
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


def _auth(env: Mapping[str, str], service_account_dir: Path) -> tuple[AuthMethod, Auth]:
    """VAULT_AUTH_METHOD (``token`` when only VAULT_TOKEN is set) and its credentials."""
    token = _get(env, names.VAULT_TOKEN)
    method = _get(env, names.VAULT_AUTH_METHOD).lower() or ("token" if token else "")
    if method == "token":
        if not token:
            fail(names.VAULT_TOKEN, "required with VAULT_AUTH_METHOD=token, expected a Vault token")
        return "token", TokenAuth(_header_value(token, names.VAULT_TOKEN))
    if method == "kubernetes":
        return "kubernetes", _kubernetes_auth(env, service_account_dir)
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
    """VAULT_BACKEND as a KV version (any of our, Portworx's or Rook's spellings); None: detect."""
    backend = _get(env, names.VAULT_BACKEND).lower()
    if not backend:
        return None
    if backend not in KV_VERSIONS:
        fail(
            names.VAULT_BACKEND,
            f"expected kv, kv-v2, v1 or v2 (or unset to detect), got {backend!r}",
        )
    return KV_VERSIONS[backend]


def _check_secret_engine(env: Mapping[str, str]) -> None:
    """VAULT_SECRET_ENGINE: only ``kv`` (or unset) is supported."""
    engine = _get(env, names.VAULT_SECRET_ENGINE).lower()
    if engine == "transit":
        fail(names.VAULT_SECRET_ENGINE, "transit is not supported yet, expected kv")
    if engine not in ("", "kv"):
        fail(names.VAULT_SECRET_ENGINE, f"expected kv, got {engine!r}")


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
    skip_verify = parse_bool(_get(env, names.VAULT_SKIP_VERIFY), names.VAULT_SKIP_VERIFY)
    return TlsSettings(cacert, capath, client_cert, client_key, server_name, skip_verify)


def parse_vault(env: Mapping[str, str], service_account_dir: Path) -> VaultSettings:
    """The VAULT_* settings; validates everything and reads nothing from the network.

    The checks run in a fixed order (address, auth, mount, version, engine, namespace, TLS), so
    with several bad values the same one is always reported.
    """
    addr = _vault_addr(env)
    method, auth = _auth(env, service_account_dir)
    backend_path = _backend_path(env)
    kv_version = _kv_version(env)
    _check_secret_engine(env)
    namespace = _vault_namespace(env)
    tls = _tls(env)
    return VaultSettings(
        addr=addr,
        auth=auth,
        auth_method=method,
        backend_path=backend_path,
        kv_version=kv_version,
        namespace=namespace,
        tls=tls,
    )

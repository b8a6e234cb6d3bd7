"""Settings: flags and environment parsed, validated and frozen before any network call.

Flags override ``VSI_*`` variables, which override defaults; the ``VAULT_*`` variables use the names
Portworx and Rook read. Every problem is a `SettingsError` whose one line names the flag or variable
and what was expected. Local files the run needs (JWT, seed, certificates) are checked here too, so
a missing mount fails with exit code 2 instead of half-way through.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, NoReturn
from urllib.parse import urlsplit

from injector import layouts
from injector.errors import SettingsError
from injector.model import (
    DEFAULT_APPROLE_MOUNT,
    DEFAULT_BACKEND_PATH,
    DEFAULT_DEADLINE,
    DEFAULT_KUBERNETES_MOUNT,
    KV_VERSIONS,
    MAX_DEADLINE,
    POD_NAMESPACE,
    SERVICE_ACCOUNT_DIR,
    AppRoleAuth,
    Auth,
    KubernetesAuth,
    Settings,
    TlsSettings,
    TokenAuth,
    VaultSettings,
)
from vsi_common import names, validation, values
from vsi_common.logs import LOG_FORMATS

_OWNER: Final = re.compile(r"^(\d{1,10})(?::(\d{1,10}))?$")
_HEADER_SAFE: Final = re.compile(r"^[\x21-\x7e]+$")


class _Parser(argparse.ArgumentParser):
    """argparse that raises a one-line SettingsError instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise SettingsError(message)


def build_parser() -> argparse.ArgumentParser:
    """The command line; every flag also has a ``VSI_*`` variable (see docs/injector.md)."""
    p = _Parser(
        prog="vsi-injector",
        description="Fetch or create per-volume encryption keys in Vault and write them to files.",
    )
    p.add_argument("--layout", choices=layouts.LAYOUTS, help=f"key layout (env {names.VSI_LAYOUT})")
    p.add_argument(
        "--volume",
        action="append",
        metavar="PVC",
        help=f"PVC name, repeatable (env {names.VSI_VOLUMES}, comma-separated)",
    )
    p.add_argument(
        "--output-dir", metavar="DIR", help=f"key file directory (env {names.VSI_OUTPUT_DIR})"
    )
    p.add_argument("--namespace", metavar="NS", help=f"PVC namespace (env {names.VSI_NAMESPACE})")
    p.add_argument(
        "--seed-file", metavar="F", help=f"rook: key to migrate once (env {names.VSI_SEED_FILE})"
    )
    p.add_argument(
        "--verify-luks",
        metavar="PATH",
        help=f"LUKS device the key must unlock (env {names.VSI_VERIFY_LUKS})",
    )
    p.add_argument(
        "--deadline", metavar="SECONDS", help=f"whole-run deadline (env {names.VSI_DEADLINE})"
    )
    p.add_argument(
        "--key-path-template",
        metavar="TEMPLATE",
        help=f"volume-keys secret path (env {names.VSI_KEY_PATH_TEMPLATE})",
    )
    p.add_argument(
        "--file-owner", metavar="UID[:GID]", help=f"key file owner (env {names.VSI_FILE_OWNER})"
    )
    p.add_argument(
        "--group-readable",
        action="store_const",
        const="true",
        help=f"key files 0440 instead of 0400 (env {names.VSI_FILE_GROUP_READABLE})",
    )
    p.add_argument(
        "--log-format", choices=LOG_FORMATS, help=f"log format (env {names.VSI_LOG_FORMAT})"
    )
    return p


def _fail(name: str, problem: str) -> NoReturn:
    raise SettingsError(f"{name}: {problem}")


def _pick(flag: str | None, env: Mapping[str, str], var: str) -> tuple[str, str]:
    """The value and the name to blame: the flag when given, else the trimmed variable."""
    if flag is not None:
        return flag.strip(), "--" + var.removeprefix("VSI_").lower().replace("_", "-")
    return env.get(var, "").strip(), var


def parse_bool(value: str, name: str) -> bool:
    """A boolean setting; anything but a known spelling is an error naming ``name``."""
    try:
        return values.parse_bool(value)
    except ValueError as exc:
        _fail(name, str(exc))


def _existing_file(value: str, name: str) -> Path:
    path = Path(value)
    if not path.is_file():
        _fail(name, f"expected a readable file, {value!r} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        _fail(name, f"file {value!r} is not readable")
    return path


def _mount_path(value: str, name: str) -> str:
    mount = value.strip("/")
    problem = layouts.check_secret_path(mount)
    if problem is not None:
        _fail(name, f"expected a mount path such as 'secret', {problem}")
    return mount


def _header_value(value: str, name: str) -> str:
    if not _HEADER_SAFE.match(value):
        _fail(name, "expected printable characters without spaces")
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


def parse_vault(env: Mapping[str, str], service_account_dir: Path) -> VaultSettings:
    """The VAULT_* settings; validates everything and reads nothing from the network."""

    def get(name: str) -> str:
        return env.get(name, "").strip()

    addr = get(names.VAULT_ADDR).rstrip("/")
    if not addr:
        _fail(
            names.VAULT_ADDR, "required, expected an http or https URL such as https://vault:8200"
        )
    try:
        parts = urlsplit(addr)
        host = parts.hostname
    except ValueError as exc:
        _fail(names.VAULT_ADDR, f"expected an http or https URL, got {addr!r} ({exc})")
    if parts.scheme not in ("http", "https") or not host:
        _fail(names.VAULT_ADDR, f"expected an http or https URL with a host, got {addr!r}")
    if not _valid_host(host):
        _fail(names.VAULT_ADDR, f"expected a DNS name or IP address as host, got {host!r}")
    try:
        _ = parts.port
    except ValueError:
        _fail(names.VAULT_ADDR, f"the port in {addr!r} is not a number")
    if parts.query or parts.fragment or parts.username is not None:
        _fail(
            names.VAULT_ADDR,
            "expected scheme://host[:port][/prefix] without user, query or fragment",
        )

    token = get(names.VAULT_TOKEN)
    method = get(names.VAULT_AUTH_METHOD).lower() or ("token" if token else "")
    mount_setting = get(names.VAULT_AUTH_MOUNT_PATH)
    auth: Auth
    if method == "token":
        if not token:
            _fail(
                names.VAULT_TOKEN, "required with VAULT_AUTH_METHOD=token, expected a Vault token"
            )
        auth = TokenAuth(_header_value(token, names.VAULT_TOKEN))
    elif method == "kubernetes":
        role = get(names.VAULT_AUTH_KUBERNETES_ROLE)
        if not role:
            _fail(names.VAULT_AUTH_KUBERNETES_ROLE, "required with VAULT_AUTH_METHOD=kubernetes")
        jwt_setting = get(names.VAULT_AUTH_KUBERNETES_TOKEN_PATH)
        jwt_path = _existing_file(
            jwt_setting or str(service_account_dir / "token"),
            names.VAULT_AUTH_KUBERNETES_TOKEN_PATH,
        )
        mount = _mount_path(mount_setting or DEFAULT_KUBERNETES_MOUNT, names.VAULT_AUTH_MOUNT_PATH)
        auth = KubernetesAuth(role=role, jwt_path=jwt_path, mount=mount)
    elif method == "approle":
        role_id = get(names.VAULT_APPROLE_ROLE_ID)
        secret_id = get(names.VAULT_APPROLE_SECRET_ID)
        if not role_id:
            _fail(names.VAULT_APPROLE_ROLE_ID, "required with VAULT_AUTH_METHOD=approle")
        if not secret_id:
            _fail(names.VAULT_APPROLE_SECRET_ID, "required with VAULT_AUTH_METHOD=approle")
        mount = _mount_path(mount_setting or DEFAULT_APPROLE_MOUNT, names.VAULT_AUTH_MOUNT_PATH)
        auth = AppRoleAuth(role_id=role_id, secret_id=secret_id, mount=mount)
    elif not method:
        _fail(
            names.VAULT_TOKEN,
            "no credentials: set VAULT_TOKEN or VAULT_AUTH_METHOD=kubernetes|approle",
        )
    else:
        _fail(names.VAULT_AUTH_METHOD, f"expected token, kubernetes or approle, got {method!r}")

    backend_path = _mount_path(
        get(names.VAULT_BACKEND_PATH) or DEFAULT_BACKEND_PATH, names.VAULT_BACKEND_PATH
    )
    backend = get(names.VAULT_BACKEND).lower()
    kv_version: int | None = None
    if backend:
        if backend not in KV_VERSIONS:
            _fail(
                names.VAULT_BACKEND,
                f"expected kv, kv-v2, v1 or v2 (or unset to detect), got {backend!r}",
            )
        kv_version = KV_VERSIONS[backend]
    engine = get(names.VAULT_SECRET_ENGINE).lower()
    if engine == "transit":
        _fail(names.VAULT_SECRET_ENGINE, "transit is not supported yet, expected kv")
    if engine not in ("", "kv"):
        _fail(names.VAULT_SECRET_ENGINE, f"expected kv, got {engine!r}")
    namespace = get(names.VAULT_NAMESPACE).strip("/") or None
    if namespace is not None and layouts.check_secret_path(namespace) is not None:
        _fail(
            names.VAULT_NAMESPACE,
            f"expected a namespace path such as 'team1' or 'a/b', got {namespace!r}",
        )

    cacert_s, capath_s = get(names.VAULT_CACERT), get(names.VAULT_CAPATH)
    cacert = _existing_file(cacert_s, names.VAULT_CACERT) if cacert_s else None
    capath: Path | None = None
    if capath_s:
        capath = Path(capath_s)
        if not capath.is_dir():
            _fail(
                names.VAULT_CAPATH,
                f"expected a directory of CA certificates, {capath_s!r} is not one",
            )
    cert_s, key_s = get(names.VAULT_CLIENT_CERT), get(names.VAULT_CLIENT_KEY)
    if bool(cert_s) != bool(key_s):
        missing = names.VAULT_CLIENT_KEY if cert_s else names.VAULT_CLIENT_CERT
        _fail(missing, "required when the other half of the client certificate pair is set")
    client_cert = _existing_file(cert_s, names.VAULT_CLIENT_CERT) if cert_s else None
    client_key = _existing_file(key_s, names.VAULT_CLIENT_KEY) if key_s else None
    server_name = get(names.VAULT_TLS_SERVER_NAME) or None
    if server_name is not None and not validation.is_hostname(server_name):
        _fail(names.VAULT_TLS_SERVER_NAME, f"expected a DNS name, got {server_name!r}")
    skip_verify = parse_bool(get(names.VAULT_SKIP_VERIFY), names.VAULT_SKIP_VERIFY)
    tls = TlsSettings(cacert, capath, client_cert, client_key, server_name, skip_verify)
    return VaultSettings(
        addr=addr,
        auth=auth,
        auth_method=method,  # type: ignore[arg-type]  # narrowed by the branches above
        backend_path=backend_path,
        kv_version=kv_version,
        namespace=namespace,
        tls=tls,
    )


def _volumes(flags: Sequence[str] | None, env: Mapping[str, str]) -> tuple[str, ...]:
    if flags:
        raw, name = [v for f in flags for v in f.split(",")], "--volume"
    else:
        raw, name = env.get(names.VSI_VOLUMES, "").split(","), names.VSI_VOLUMES
    volumes = [v.strip() for v in raw if v.strip()]
    if not volumes:
        _fail(f"--volume/{names.VSI_VOLUMES}", "required, expected at least one PVC name")
    seen: set[str] = set()
    for volume in volumes:
        if not validation.is_pvc_name(volume):
            _fail(name, f"expected PVC names (lowercase DNS-1123 subdomains), got {volume!r}")
        if volume in seen:
            _fail(name, f"volume {volume!r} is listed twice")
        seen.add(volume)
    return tuple(volumes)


def _namespace(flag: str | None, env: Mapping[str, str], service_account_dir: Path) -> str | None:
    value, name = _pick(flag, env, names.VSI_NAMESPACE)
    if not value:
        value, name = env.get(POD_NAMESPACE, "").strip(), POD_NAMESPACE
    if not value:
        ns_file = service_account_dir / "namespace"
        try:
            value, name = ns_file.read_text().strip(), str(ns_file)
        except OSError:
            return None
    if not validation.is_namespace_name(value):
        _fail(name, f"expected a namespace name (DNS-1123 label), got {value!r}")
    return value


def _deadline(flag: str | None, env: Mapping[str, str]) -> float:
    value, name = _pick(flag, env, names.VSI_DEADLINE)
    if not value:
        return DEFAULT_DEADLINE
    try:
        seconds = float(value.removesuffix("s"))
    except ValueError:
        _fail(name, f"expected seconds such as 60 or 2.5, got {value!r}")
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_DEADLINE:
        _fail(name, f"expected seconds in (0, {MAX_DEADLINE:g}], got {value!r}")
    return seconds


def _owner(flag: str | None, env: Mapping[str, str]) -> tuple[int | None, int | None]:
    value, name = _pick(flag, env, names.VSI_FILE_OWNER)
    if not value:
        return None, None
    match = _OWNER.match(value)
    if match is None:
        _fail(name, f"expected UID or UID:GID (numbers), got {value!r}")
    uid = int(match.group(1))
    gid = int(match.group(2)) if match.group(2) is not None else None
    if uid > 2**32 - 2 or (gid is not None and gid > 2**32 - 2):
        _fail(name, f"expected ids below 4294967295, got {value!r}")
    return uid, gid


def parse(
    argv: Sequence[str] | None,
    env: Mapping[str, str],
    *,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> Settings:
    """Flags and environment into validated `Settings`; raises `SettingsError` (one line)."""
    args = build_parser().parse_args(argv)

    layout, layout_name = _pick(args.layout, env, names.VSI_LAYOUT)
    if layout not in layouts.LAYOUTS:
        _fail(
            layout_name, f"required, expected one of {', '.join(layouts.LAYOUTS)}, got {layout!r}"
        )
    volumes = _volumes(args.volume, env)
    if layout == layouts.ROOK and len(volumes) != 1:
        _fail(
            "--volume",
            f"the rook layout takes exactly one volume (the OSD's PVC), got {len(volumes)}",
        )

    out_value, out_name = _pick(args.output_dir, env, names.VSI_OUTPUT_DIR)
    if not out_value:
        _fail(out_name, "required, expected the directory that receives the key files")
    output_dir = Path(out_value)
    if not output_dir.is_dir():
        _fail(out_name, f"expected an existing directory, {out_value!r} is not one")

    namespace = _namespace(args.namespace, env, service_account_dir)

    template, template_name = _pick(args.key_path_template, env, names.VSI_KEY_PATH_TEMPLATE)
    kube_fields = False
    if layout == layouts.VOLUME_KEYS:
        template = template.strip("/") or layouts.DEFAULT_KEY_PATH_TEMPLATE
        try:
            fields = layouts.template_fields(template)
        except ValueError as exc:
            _fail(template_name, f"bad key path template {template!r}: {exc}")
        if namespace is None and ("namespace" in fields or fields & layouts.KUBE_TEMPLATE_FIELDS):
            _fail(
                f"--namespace/{names.VSI_NAMESPACE}",
                "required for the volume-keys layout (also read from POD_NAMESPACE or the "
                "service-account namespace file, neither is set)",
            )
        kube_fields = bool(fields & layouts.KUBE_TEMPLATE_FIELDS)
        if not kube_fields:
            for volume in volumes:
                try:
                    layouts.volume_keys_spec(template, namespace=namespace or "", pvc=volume)
                except ValueError as exc:
                    _fail(template_name, str(exc))
    elif template:
        _fail(template_name, "only the volume-keys layout takes a key path template")

    seed_value, seed_name = _pick(args.seed_file, env, names.VSI_SEED_FILE)
    seed: bytes | None = None
    seed_file: Path | None = None
    if seed_value:
        if layout != layouts.ROOK:
            _fail(seed_name, "only the rook layout takes a seed file")
        seed_file = _existing_file(seed_value, seed_name)
        seed = seed_file.read_bytes()
        problem = layouts.check_seed(seed)
        if problem is not None:
            _fail(seed_name, f"the seed in {seed_value!r} is unusable: {problem}")

    luks_value, luks_name = _pick(args.verify_luks, env, names.VSI_VERIFY_LUKS)
    verify_luks: Path | None = None
    if luks_value:
        if len(volumes) != 1:
            _fail(luks_name, "takes one device, so it needs exactly one volume")
        verify_luks = Path(luks_value)
        if not verify_luks.exists():
            _fail(luks_name, f"expected a block device or file, {luks_value!r} does not exist")

    group_value, group_name = _pick(args.group_readable, env, names.VSI_FILE_GROUP_READABLE)
    group_readable = parse_bool(group_value, group_name)
    uid, gid = _owner(args.file_owner, env)
    log_value, log_name = _pick(args.log_format, env, names.VSI_LOG_FORMAT)
    log_format = log_value.lower() or "json"
    if log_format not in LOG_FORMATS:
        _fail(log_name, f"expected json or text, got {log_value!r}")

    return Settings(
        layout=layout,
        volumes=volumes,
        output_dir=output_dir,
        namespace=namespace,
        seed=seed,
        seed_file=seed_file,
        verify_luks=verify_luks,
        deadline=_deadline(args.deadline, env),
        key_path_template=template,
        kube_fields=kube_fields,
        file_uid=uid,
        file_gid=gid,
        group_readable=group_readable,
        log_format=log_format,
        vault=parse_vault(env, service_account_dir),
        kv1_allow_overwrite=parse_bool(
            env.get(names.VSI_KV1_ALLOW_OVERWRITE_POLICY, ""), names.VSI_KV1_ALLOW_OVERWRITE_POLICY
        ),
    )

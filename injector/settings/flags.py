"""Flags and environment into validated `Settings`, before any network call.

Flags override ``VSI_*`` variables, which override defaults; the ``VAULT_*`` variables are
`injector.settings.vault_env`'s. One small function per setting (layout, volumes, output directory,
namespace, key path template, seed, LUKS device, file owner and mode, log format, deadline), each
raising a one-line `SettingsError` that names the flag or variable and what was expected. Local
files the run needs (seed, service-account namespace) are read and checked here too, so a missing
mount fails with exit code 2 instead of half-way through. The command line itself is
`injector.cli`'s; this module takes its values as `Flags`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from injector import layouts
from injector.errors import SettingsErrors, collect
from injector.settings.model import (
    DEFAULT_DEADLINE,
    MAX_DEADLINE,
    POD_NAMESPACE,
    SERVICE_ACCOUNT_DIR,
    Settings,
)
from injector.settings.parsers import existing_file, fail, parse_bool, path_is
from injector.settings.vault_env import parse_vault
from vsi_common import names, validation
from vsi_common.files import UnreadableFile, read_regular_file
from vsi_common.logs import LOG_FORMATS

MAX_SEED: Final = 64 * 1024
"""Largest seed file read (Rook's key text is 172 bytes)."""
MAX_NAMESPACE_FILE: Final = 4096
"""Largest service-account namespace file read."""
_NONE: Final[tuple[str, ...]] = ()
_NO_OWNER: Final[tuple[int | None, int | None]] = (None, None)
_NO_SEED: Final[tuple[bytes | None, Path | None]] = (None, None)
_OWNER: Final = re.compile(r"^(\d{1,10})(?::(\d{1,10}))?$")


@dataclass(frozen=True)
class Flags:
    """The command-line values as given (None: flag absent), before validation."""

    layout: str | None = None
    """--layout."""
    volume: Sequence[str] | None = None
    """--volume, once per flag; each may also hold comma-separated names."""
    output_dir: str | None = None
    """--output-dir."""
    namespace: str | None = None
    """--namespace."""
    seed_file: str | None = None
    """--seed-file."""
    verify_luks: str | None = None
    """--verify-luks."""
    deadline: str | None = None
    """--deadline."""
    key_path_template: str | None = None
    """--key-path-template."""
    file_owner: str | None = None
    """--file-owner."""
    group_readable: str | None = None
    """--group-readable (``"true"`` when given)."""
    log_format: str | None = None
    """--log-format."""
    token_file: str | None = None
    """--token-file (kubernetes auth: the JWT file, over VAULT_AUTH_KUBERNETES_TOKEN_PATH)."""


def _pick(flag: str | None, env: Mapping[str, str], var: str) -> tuple[str, str]:
    """The value and the name to blame: the flag when given, else the trimmed variable."""
    if flag is not None:
        return flag.strip(), "--" + var.removeprefix("VSI_").lower().replace("_", "-")
    return env.get(var, "").strip(), var


def _layout(flag: str | None, env: Mapping[str, str]) -> str:
    """--layout / VSI_LAYOUT: ``rook`` or ``volume-keys``, required."""
    value, name = _pick(flag, env, names.VSI_LAYOUT)
    if value not in layouts.LAYOUTS:
        fail(name, f"required, expected one of {', '.join(layouts.LAYOUTS)}, got {value!r}")
    return value


def _volumes(flags: Sequence[str] | None, env: Mapping[str, str], layout: str) -> tuple[str, ...]:
    """--volume / VSI_VOLUMES: PVC names, in order, no duplicates; exactly one for ``rook``."""
    if flags:
        raw, name = [v for f in flags for v in f.split(",")], "--volume"
    else:
        raw, name = env.get(names.VSI_VOLUMES, "").split(","), names.VSI_VOLUMES
    volumes = [v.strip() for v in raw if v.strip()]
    if not volumes:
        fail(f"--volume/{names.VSI_VOLUMES}", "required, expected at least one PVC name")
    seen: set[str] = set()
    for volume in volumes:
        if not validation.is_pvc_name(volume):
            fail(name, f"expected PVC names (lowercase DNS-1123 subdomains), got {volume!r}")
        if volume in seen:
            fail(name, f"volume {volume!r} is listed twice")
        seen.add(volume)
    if layout == layouts.ROOK and len(volumes) != 1:
        fail(
            name,
            f"the rook layout takes exactly one volume (the OSD's PVC), got {len(volumes)}",
        )
    return tuple(volumes)


def _output_dir(flag: str | None, env: Mapping[str, str], required: bool) -> Path | None:
    """--output-dir / VSI_OUTPUT_DIR: an existing directory, required except for ``--check``."""
    value, name = _pick(flag, env, names.VSI_OUTPUT_DIR)
    if not value:
        if not required:
            return None
        fail(name, "required, expected the directory that receives the key files")
    path = Path(value)
    if not path_is(path, name, Path.is_dir):
        fail(name, f"expected an existing directory, {value!r} is not one")
    return path


def _namespace(flag: str | None, env: Mapping[str, str], service_account_dir: Path) -> str | None:
    """--namespace / VSI_NAMESPACE, else POD_NAMESPACE, else the service-account file; or None."""
    value, name = _pick(flag, env, names.VSI_NAMESPACE)
    if not value:
        value, name = env.get(POD_NAMESPACE, "").strip(), POD_NAMESPACE
    if not value:
        ns_file = service_account_dir / "namespace"
        try:
            value = read_regular_file(ns_file, max_bytes=MAX_NAMESPACE_FILE).decode().strip()
        except (UnreadableFile, UnicodeDecodeError):
            return None
        name = str(ns_file)
    if not validation.is_namespace_name(value):
        fail(name, f"expected a namespace name (DNS-1123 label), got {value!r}")
    return value


def _key_path_template(
    flag: str | None,
    env: Mapping[str, str],
    layout: str,
    volumes: Sequence[str],
    namespace: str | None,
) -> tuple[str, bool]:
    """--key-path-template / VSI_KEY_PATH_TEMPLATE and whether it needs the bound PV.

    Only ``volume-keys`` takes one. A template without PV fields is tried on every volume now,
    so an unsafe path is a settings error and not a failure after login.
    """
    template, name = _pick(flag, env, names.VSI_KEY_PATH_TEMPLATE)
    if layout != layouts.VOLUME_KEYS:
        if template:
            fail(name, "only the volume-keys layout takes a key path template")
        return template, False
    template = template.strip("/") or layouts.DEFAULT_KEY_PATH_TEMPLATE
    try:
        fields = layouts.template_fields(template)
    except ValueError as exc:
        fail(name, f"bad key path template {template!r}: {exc}")
    if namespace is None and ("namespace" in fields or fields & layouts.KUBE_TEMPLATE_FIELDS):
        fail(
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
                fail(name, str(exc))
    return template, kube_fields


def _seed(
    flag: str | None, env: Mapping[str, str], layout: str
) -> tuple[bytes | None, Path | None]:
    """--seed-file / VSI_SEED_FILE (rook only): the seed's bytes and its file, checked usable."""
    value, name = _pick(flag, env, names.VSI_SEED_FILE)
    if not value:
        return None, None
    if layout != layouts.ROOK:
        fail(name, "only the rook layout takes a seed file")
    seed_file = existing_file(value, name)
    try:
        content = read_regular_file(seed_file, max_bytes=MAX_SEED)
    except UnreadableFile as exc:
        fail(name, str(exc))
    problem = layouts.check_seed(content)
    if problem is not None:
        fail(name, f"the seed in {value!r} is unusable: {problem}")
    return content, seed_file


def _verify_luks(flag: str | None, env: Mapping[str, str], volumes: Sequence[str]) -> Path | None:
    """--verify-luks / VSI_VERIFY_LUKS: an existing device or file, with exactly one volume."""
    value, name = _pick(flag, env, names.VSI_VERIFY_LUKS)
    if not value:
        return None
    if len(volumes) != 1:
        fail(name, "takes one device, so it needs exactly one volume")
    device = Path(value)
    if not path_is(device, name, Path.exists):
        fail(name, f"expected a block device or file, {value!r} does not exist")
    return device


def _group_readable(flag: str | None, env: Mapping[str, str]) -> bool:
    """--group-readable / VSI_FILE_GROUP_READABLE: key files 0440 instead of 0400."""
    value, name = _pick(flag, env, names.VSI_FILE_GROUP_READABLE)
    return parse_bool(value, name)


def _owner(flag: str | None, env: Mapping[str, str]) -> tuple[int | None, int | None]:
    """--file-owner / VSI_FILE_OWNER: ``UID[:GID]``; (None, None) keeps the injector's own."""
    value, name = _pick(flag, env, names.VSI_FILE_OWNER)
    if not value:
        return None, None
    match = _OWNER.match(value)
    if match is None:
        fail(name, f"expected UID or UID:GID (numbers), got {value!r}")
    uid = int(match.group(1))
    gid = int(match.group(2)) if match.group(2) is not None else None
    if uid > 2**32 - 2 or (gid is not None and gid > 2**32 - 2):
        fail(name, f"expected ids below 4294967295, got {value!r}")
    return uid, gid


def _log_format(flag: str | None, env: Mapping[str, str]) -> str:
    """--log-format / VSI_LOG_FORMAT: ``json`` (default) or ``text``."""
    value, name = _pick(flag, env, names.VSI_LOG_FORMAT)
    log_format = value.lower() or "json"
    if log_format not in LOG_FORMATS:
        fail(name, f"expected json or text, got {value!r}")
    return log_format


def _deadline(flag: str | None, env: Mapping[str, str]) -> float:
    """--deadline / VSI_DEADLINE: seconds in (0, MAX_DEADLINE], an ``s`` suffix allowed."""
    value, name = _pick(flag, env, names.VSI_DEADLINE)
    if not value:
        return DEFAULT_DEADLINE
    try:
        seconds = float(value.removesuffix("s"))
    except ValueError:
        fail(name, f"expected seconds such as 60 or 2.5, got {value!r}")
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_DEADLINE:
        fail(name, f"expected seconds in (0, {MAX_DEADLINE:g}], got {value!r}")
    return seconds


def _layout_parts(
    flags: Flags,
    env: Mapping[str, str],
    chosen: str,
    volumes: tuple[str, ...],
    namespace: str | None,
    problems: list[str],
) -> tuple[str, bool, bytes | None, Path | None]:
    """The key path template and the seed, checked for a valid layout only (else unset)."""
    if not chosen:
        return "", False, None, None
    template, kube_fields = collect(
        problems,
        ("", False),
        lambda: _key_path_template(flags.key_path_template, env, chosen, volumes, namespace),
    )
    seed, seed_file = collect(problems, _NO_SEED, lambda: _seed(flags.seed_file, env, chosen))
    return template, kube_fields, seed, seed_file


def build_settings(
    flags: Flags,
    env: Mapping[str, str],
    *,
    check: bool = False,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> Settings:
    """Flags and environment into validated `Settings`; raises `SettingsError` (one line).

    Every setting is checked, in a fixed order (flags and ``VSI_*`` first, then ``VAULT_*``), and
    `SettingsErrors` holds every bad one, the first first. ``check``: the settings of a preflight
    check (``--check``), the same as a run's except that no output directory is needed.
    """
    problems: list[str] = []
    chosen = collect(problems, "", lambda: _layout(flags.layout, env))
    volumes = collect(problems, _NONE, lambda: _volumes(flags.volume, env, chosen))
    output_dir = collect(
        problems, None, lambda: _output_dir(flags.output_dir, env, required=not check)
    )
    namespace = collect(
        problems, None, lambda: _namespace(flags.namespace, env, service_account_dir)
    )
    template, kube_fields, seed, seed_file = _layout_parts(
        flags, env, chosen, volumes, namespace, problems
    )
    verify_luks = None
    if volumes:
        verify_luks = collect(problems, None, lambda: _verify_luks(flags.verify_luks, env, volumes))
    group_readable = collect(problems, False, lambda: _group_readable(flags.group_readable, env))
    uid, gid = collect(problems, _NO_OWNER, lambda: _owner(flags.file_owner, env))
    log_format = collect(problems, "json", lambda: _log_format(flags.log_format, env))
    deadline = collect(problems, DEFAULT_DEADLINE, lambda: _deadline(flags.deadline, env))
    vault = collect(problems, None, lambda: parse_vault(env, service_account_dir, flags.token_file))
    kv1_allow_overwrite = collect(
        problems,
        False,
        lambda: parse_bool(
            env.get(names.VSI_KV1_ALLOW_OVERWRITE_POLICY, ""), names.VSI_KV1_ALLOW_OVERWRITE_POLICY
        ),
    )
    if problems or vault is None:
        raise SettingsErrors(tuple(problems))
    return Settings(
        layout=chosen,
        volumes=volumes,
        output_dir=output_dir,
        namespace=namespace,
        seed=seed,
        seed_file=seed_file,
        verify_luks=verify_luks,
        deadline=deadline,
        key_path_template=template,
        kube_fields=kube_fields,
        file_uid=uid,
        file_gid=gid,
        group_readable=group_readable,
        log_format=log_format,
        vault=vault,
        kv1_allow_overwrite=kv1_allow_overwrite,
    )

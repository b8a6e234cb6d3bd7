"""The profiles file: parse, validate and build the frozen `Config` the mutation runs on.

Credentials never come from the file: ``connection.values`` holds settings, tokens and secret ids
come from Secrets (`webhook.core.vault_connection` reads the connections). Every error is one
line naming the file, the field and what was expected. Pure but for reading the file it is given.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from typing import Any, Final

import yaml

from vsi_common import validation
from webhook.core import constants as c
from webhook.core.fields import FieldReader, kind
from webhook.core.profiles import (
    BUILTIN_PROFILES,
    Config,
    InjectorSettings,
    KeyVolume,
    Profile,
    Resources,
    default_config,
)
from webhook.core.vault_connection import parse_connection
from webhook.errors import ConfigError

PULL_POLICIES: Final = ("Always", "IfNotPresent", "Never")
"""Accepted ``injector.imagePullPolicy`` values."""
RESOURCE_NAMES: Final = ("cpu", "memory", "ephemeral-storage")
"""Resource names accepted in ``injector.resources``."""
RESERVED_MOUNT_PATHS: Final = (
    (c.TLS_MOUNT_PATH, "TLS Secret"),
    (c.SEED_MOUNT_PATH, "Rook seed"),
    (c.CRYPTSETUP_LOCK_DIR, "cryptsetup lock"),
)
"""Paths the injector also mounts: ``keyVolume.mountPath`` may not equal, contain or nest in them
(a container's mount paths must be unique, and nested mounts would hide or shadow the keys)."""

_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_IMAGE = re.compile(r"^[^\s]+$")


TOP_FIELDS: Final = ("injector", "keyVolume", "builtinProfiles", "profiles")
"""Top-level keys of the profiles file."""
INJECTOR_FIELDS: Final = ("image", "imagePullPolicy", "runAsUser", "resources")
"""Keys of ``injector:``."""
KEY_VOLUME_FIELDS: Final = ("sizeLimit", "mountPath")
"""Keys of ``keyVolume:``."""
PROFILE_FIELDS: Final = ("name", "type", "connection")
"""Keys of one ``profiles[]`` entry."""


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Read and validate the profiles file at ``path``; None means the built-in defaults only."""
    if path is None:
        return default_config()
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the profiles file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: the profiles file is not UTF-8 text") from None
    return parse_config(text, source=source)


def parse_config(text: str, *, source: str) -> Config:
    """Parse and validate profiles YAML; ``source`` names the file in error messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from None
    return _Parser(source).config(data)


class _Parser(FieldReader):
    """Walks the parsed YAML; every error names ``source`` and the dotted field path."""

    def quantity(self, value: Any, where: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(where, f"expected a quantity such as 64Mi, got {kind(value)}")
        text = str(value)
        if not _QUANTITY.match(text):
            raise self.fail(where, f"expected a quantity such as 64Mi, got {text!r}")
        return text

    def config(self, data: Any) -> Config:
        if data is None:
            data = {}
        top = self.mapping(data, "(top level)", TOP_FIELDS)
        injector = self.injector(top.get("injector"))
        key_volume = self.key_volume(top.get("keyVolume"))
        builtin = top.get("builtinProfiles", True)
        if not isinstance(builtin, bool):
            raise self.fail("builtinProfiles", f"expected true or false, got {kind(builtin)}")
        raw_profiles = top.get("profiles")
        if raw_profiles is None:
            raw_profiles = []
        if not isinstance(raw_profiles, list):
            raise self.fail("profiles", f"expected a list, got {kind(raw_profiles)}")
        profiles: list[Profile] = []
        seen: set[str] = set()
        for index, raw in enumerate(raw_profiles):
            profile = self.profile(raw, f"profiles[{index}]")
            if profile.name in seen:
                raise self.fail(f"profiles[{index}].name", f"duplicate profile {profile.name!r}")
            seen.add(profile.name)
            profiles.append(profile)
        if builtin:
            profiles.extend(p for p in BUILTIN_PROFILES if p.name not in seen)
        return Config(injector, key_volume, tuple(profiles), self.source)

    def injector(self, raw: Any) -> InjectorSettings:
        if raw is None:
            return InjectorSettings()
        data = self.mapping(raw, "injector", INJECTOR_FIELDS)
        settings = InjectorSettings()
        image = settings.image
        if "image" in data:
            image = self.string(data["image"], "injector.image")
            if not _IMAGE.match(image):
                raise self.fail("injector.image", "expected an image reference without spaces")
        policy = data.get("imagePullPolicy", settings.image_pull_policy)
        if policy not in PULL_POLICIES:
            raise self.fail(
                "injector.imagePullPolicy", f"expected one of {', '.join(PULL_POLICIES)}"
            )
        uid = data.get("runAsUser", settings.run_as_user)
        if isinstance(uid, bool) or not isinstance(uid, int) or uid <= 0 or uid > 2**31 - 1:
            raise self.fail("injector.runAsUser", "expected a non-zero uid (1..2147483647)")
        resources = self.resources(data.get("resources"))
        return InjectorSettings(image, str(policy), uid, resources)

    def resources(self, raw: Any) -> Resources:
        if raw is None:
            return Resources()
        data = self.mapping(raw, "injector.resources", ("requests", "limits"))
        parts: dict[str, tuple[tuple[str, str], ...]] = {}
        for part in ("requests", "limits"):
            where = f"injector.resources.{part}"
            if part not in data:
                parts[part] = tuple(getattr(Resources(), part))
                continue
            values = self.mapping(data[part] or {}, where, RESOURCE_NAMES)
            parts[part] = tuple(
                (str(k), self.quantity(v, f"{where}.{k}")) for k, v in values.items()
            )
        return Resources(parts["requests"], parts["limits"])

    def key_volume(self, raw: Any) -> KeyVolume:
        if raw is None:
            return KeyVolume()
        data = self.mapping(raw, "keyVolume", KEY_VOLUME_FIELDS)
        size = self.quantity(data.get("sizeLimit", c.DEFAULT_KEY_SIZE_LIMIT), "keyVolume.sizeLimit")
        mount = self.string(data.get("mountPath", c.DEFAULT_KEY_MOUNT_PATH), "keyVolume.mountPath")
        if not mount.startswith("/") or ":" in mount or len(mount) < 2:
            raise self.fail("keyVolume.mountPath", "expected an absolute path other than /")
        for other, what in RESERVED_MOUNT_PATHS:
            if _overlaps(mount, other):
                raise self.fail(
                    "keyVolume.mountPath",
                    f"must not be, contain or lie inside {other} (the {what} mount)",
                )
        return KeyVolume(size, mount.rstrip("/"))

    def profile(self, raw: Any, where: str) -> Profile:
        data = self.mapping(raw, where, PROFILE_FIELDS)
        for required in PROFILE_FIELDS:
            if required not in data:
                raise self.fail(f"{where}.{required}", "required field is missing")
        name = self.string(data["name"], f"{where}.name")
        if not validation.is_dns1123_label(name):
            raise self.fail(f"{where}.name", f"expected {validation.DNS1123_LABEL}")
        profile_type = data["type"]
        if profile_type not in c.PROFILE_TYPES:
            raise self.fail(f"{where}.type", f"expected one of {', '.join(c.PROFILE_TYPES)}")
        connection = parse_connection(self, data["connection"], f"{where}.connection")
        return Profile(name, str(profile_type), connection)


def _overlaps(path: str, other: str) -> bool:
    """Whether two absolute paths are the same or one lies inside the other."""
    a, b = posixpath.normpath(path), posixpath.normpath(other)
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")

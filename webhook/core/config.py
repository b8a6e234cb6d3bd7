"""The profiles file: declared as data, parsed by that declaration into the frozen `Config`.

`PROFILES_FILE` (with `webhook.core.vault_connection.CONNECTION` for each profile's connection)
says every field: its kind of value, whether it is required, what it means, the rules between
fields. `parse_config` reads the file by it, and ``python -m tools.profile_schema`` writes the
same declaration into the chart's values.schema.json, so the two cannot disagree. Adding a field
is one `Field` in the record it belongs to (docs/profiles.md, "Adding a field").

Credentials never come from the file: ``connection.values`` holds settings, tokens and secret ids
come from Secrets. Every error is one line naming the file, the field and what was expected.
Pure but for reading the file it is given.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import yaml

from vsi_common import safeyaml
from webhook.core import constants as c
from webhook.core.fields import (
    DNS_LABEL,
    TOP,
    Choice,
    FieldReader,
    Flag,
    Integer,
    JsonSchema,
    Node,
    Quantity,
    SchemaContext,
    Text,
)
from webhook.core.mappings import Field, ListOf, Record
from webhook.core.profiles import (
    BUILTIN_PROFILES,
    Config,
    InjectorSettings,
    KeyVolume,
    Profile,
    Resources,
    default_config,
)
from webhook.core.record_rules import TypeLimits
from webhook.core.selectors import LABEL_SELECTOR, NAMESPACES
from webhook.core.vault_connection import CONNECTION
from webhook.core.vault_readers import ReadersTake
from webhook.errors import ConfigError

PULL_POLICIES: Final = ("Always", "IfNotPresent", "Never")
"""Accepted ``injector.imagePullPolicy`` values."""
RESOURCE_NAMES: Final = ("cpu", "memory", "ephemeral-storage")
"""Resource names accepted in ``injector.resources``."""
RESERVED_MOUNT_PATHS: Final = (
    (c.TLS_MOUNT_PATH, "TLS Secret"),
    (c.SEED_MOUNT_PATH, "Rook seed"),
    (c.VAULT_TOKEN_MOUNT_PATH, "Vault token"),
    (c.CRYPTSETUP_LOCK_DIR, "cryptsetup lock"),
)
"""Paths the injector also mounts: ``keyVolume.mountPath`` may not equal, contain or nest in them
(a container's mount paths must be unique, and nested mounts would hide or shadow the keys)."""


def _overlaps(path: str, other: str) -> bool:
    """Whether two absolute paths are the same or one lies inside the other."""
    a, b = posixpath.normpath(path), posixpath.normpath(other)
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


def _escape(text: str) -> str:
    """``text`` as a literal in a regular expression that Python and ECMA-262 read alike."""
    return "".join(f"\\{ch}" if ch in r"\.^$*+?()[]{}|" else ch for ch in text)


def _around(path: str) -> str:
    """A regular expression for ``path``, each of its parents and everything inside it."""
    inner = "(/.*)?"
    segments = path.strip("/").split("/")
    for segment in reversed(segments[1:]):
        inner = f"(/{_escape(segment)}{inner})?"
    return f"/{_escape(segments[0])}{inner}"


class MountPath(Node):
    """``keyVolume.mountPath``: an absolute path other than /, clear of the injector's own mounts.

    The schema is stricter: it also refuses ``.`` and ``..`` segments (and names starting with a
    dot), which would only mean what they say once normalised.
    """

    def read(self, reader: FieldReader, value: Any, where: str) -> str:
        mount = reader.string(value, where)
        if not mount.startswith("/") or ":" in mount or len(mount) < 2:
            raise reader.fail(where, "expected an absolute path other than /")
        for other, what in RESERVED_MOUNT_PATHS:
            if _overlaps(mount, other):
                raise reader.fail(
                    where, f"must not be, contain or lie inside {other} (the {what} mount)"
                )
        return mount.rstrip("/")

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        reserved = "|".join(_around(path) for path, _ in RESERVED_MOUNT_PATHS)
        return {
            "type": "string",
            "pattern": "^(/[^/:.][^/:]*)+/?$",
            "not": {"pattern": f"^({reserved})/?$"},
        }


QUANTITY: Final = Quantity()
"""A Kubernetes quantity (``injector.resources``, ``keyVolume.sizeLimit``)."""
_QUANTITIES: Final = Record(
    tuple(Field(name, QUANTITY) for name in RESOURCE_NAMES),
    lambda **found: tuple(found.items()),
    absent_is_empty=True,
)
RESOURCES: Final = Record(
    (Field("requests", _QUANTITIES), Field("limits", _QUANTITIES)),
    Resources,
    absent_is_empty=True,
    ref="injectorResources",
)
"""``injector.resources``: requests and limits of the injected container."""
INJECTOR: Final = Record(
    (
        Field(
            "image",
            Text(r"^\S+$", "an image reference without spaces"),
            "Image of the injected init container; default this project's at the package version.",
        ),
        Field(
            "imagePullPolicy",
            Choice(PULL_POLICIES, ref="imagePullPolicy"),
            "Pull policy of the injected init container.",
            attr="image_pull_policy",
        ),
        Field(
            "runAsUser",
            Integer(1, 2**31 - 1, "a non-zero uid (1..2147483647)"),
            "uid of the injector when the consuming pod names no non-root user.",
            attr="run_as_user",
        ),
        Field(
            "resources",
            RESOURCES,
            "Requests and limits (cpu, memory, ephemeral-storage) of the injected init container.",
        ),
    ),
    InjectorSettings,
    absent_is_empty=True,
    doc="The injected vsi-injector init container.",
)
"""``injector:``: how the key-injector init container is run."""
_RESERVED_LIST = ", ".join(path for path, _ in RESERVED_MOUNT_PATHS[:-1])
KEY_VOLUME: Final = Record(
    (
        Field("sizeLimit", QUANTITY, "Size of the in-memory key volume.", attr="size_limit"),
        Field(
            "mountPath",
            MountPath(),
            f"Where key files appear; not {_RESERVED_LIST} or {RESERVED_MOUNT_PATHS[-1][0]}, "
            "nor inside or above them.",
            attr="mount_path",
        ),
    ),
    KeyVolume,
    absent_is_empty=True,
    doc="The in-memory volume the injector writes keys to.",
)
"""``keyVolume:``: the in-memory volume the injector writes keys to."""
PROFILE: Final = Record(
    (
        Field(
            "name",
            DNS_LABEL,
            "The name annotations refer to; the name of a built-in overrides it.",
            required=True,
        ),
        Field(
            "type",
            Choice(c.PROFILE_TYPES),
            "The profile type: what it matches and injects.",
            required=True,
        ),
        Field("connection", CONNECTION, required=True),
        Field(
            "namespaces",
            NAMESPACES,
            "The only namespaces the profile serves (each once; empty: none). With "
            "namespaceSelector a namespace must satisfy both.",
        ),
        Field(
            "namespaceSelector",
            LABEL_SELECTOR,
            "The labels of the namespaces the profile serves (a Kubernetes LabelSelector).",
            attr="namespace_selector",
        ),
    ),
    Profile,
    rules=(TypeLimits("type"), ReadersTake()),
    ref="profile",
)
"""One ``profiles[]`` entry."""


def _config(
    injector: InjectorSettings | None = None,
    key_volume: KeyVolume | None = None,
    builtin: bool = True,
    profiles: tuple[Profile, ...] = (),
) -> Config:
    """The configured profiles, then the built-ins they do not override (unless ``builtin`` is
    false)."""
    seen = {profile.name for profile in profiles}
    extra = tuple(p for p in BUILTIN_PROFILES if p.name not in seen) if builtin else ()
    return Config(injector or InjectorSettings(), key_volume or KeyVolume(), (*profiles, *extra))


PROFILES_FILE: Final = Record(
    (
        Field("injector", INJECTOR),
        Field("keyVolume", KEY_VOLUME, attr="key_volume"),
        Field(
            "builtinProfiles",
            Flag(),
            "Keep the built-in profiles (one per profile type, named after it) that profiles "
            "does not override by name.",
            attr="builtin",
        ),
        Field(
            "profiles",
            ListOf(PROFILE, unique_by="name", noun="profile"),
            "Profiles, as in docs/profiles.md: a name, a type and a connection each.",
        ),
    ),
    _config,
    absent_is_empty=True,
)
"""The profiles file: every field of it, declared once."""


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
        data = safeyaml.load(text)
    except safeyaml.YamlLimit as exc:
        raise ConfigError(f"{source}: refused: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from None
    config: Config = PROFILES_FILE.read(FieldReader(source), data, TOP)
    return replace(config, source=source)

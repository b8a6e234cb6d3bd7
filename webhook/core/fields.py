"""The kinds of value a profiles file holds, each read and described as JSON Schema in one place.

The profiles file is declared as data (`webhook.core.mappings` puts these values into mappings
and lists, `webhook.core.config` and `webhook.core.vault_connection` declare the file). Every
kind of value below both reads a parsed YAML value (trimmed, checked, one-line errors naming
file, field and expectation) and says what it accepts as JSON Schema (draft-07, what Helm 3 and
Helm 4 read), so the chart's schema is generated from the very code that parses (`python -m
tools.profile_schema`). Messages name the type of a bad value, never the value itself: it might
be a credential.

Where the schema is stricter than the reader it says so in the docstring: the reader trims and
folds case where a hand-edited file would want it, the schema refuses the stray blank at install.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from vsi_common import validation
from webhook.errors import ConfigError

JsonSchema = dict[str, Any]
"""One JSON Schema (draft-07) object."""
TOP: Final = "(top level)"
"""How errors name the file's top level."""
QUANTITY_PATTERN: Final = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
"""A quantity the webhook accepts (a subset of Kubernetes': no exponents, no sign)."""


def below(where: str, key: object) -> str:
    """The dotted name of ``key`` under ``where`` (a top-level key is named alone)."""
    return str(key) if where == TOP else f"{where}.{key}"


class FieldReader:
    """Reads parsed YAML for one file; every error names ``source`` and the dotted field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> ConfigError:
        """The one-line error ``<source>: <where>: <problem>`` (raise it)."""
        return ConfigError(f"{self.source}: {where}: {problem}")

    def string(self, value: Any, where: str) -> str:
        """A non-empty string, trimmed."""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected a non-empty string, got {kind(value)}")
        return value.strip()

    def setting(self, value: Any, where: str) -> str:
        """A VAULT_* value: a non-empty string (numbers accepted as YAML gives them), trimmed."""
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(where, f"expected a string, got {kind(value)}")
        text = str(value).strip()
        if not text:
            raise self.fail(where, "expected a non-empty string")
        return text


def kind(value: Any) -> str:
    """A short type name for error messages (never the value: it might be a secret)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


@dataclass
class SchemaContext:
    """Collects the named definitions while a declaration is turned into JSON Schema."""

    base: str = "#/$defs/"
    """Where the definitions live in the document (``$ref`` prefix)."""
    defs: dict[str, JsonSchema] = field(default_factory=dict)
    """Definition name -> schema, in the order they were first met."""

    def of(self, node: Node) -> JsonSchema:
        """The schema of ``node``: a ``$ref`` to its definition when it is named, else inline.

        Two declarations may share a name only when they say the same (three Rook TLS settings
        that differ in their error message, not in what they accept)."""
        schema = node.json_schema(self)
        if node.ref is None:
            return schema
        if self.defs.setdefault(node.ref, schema) != schema:
            raise ValueError(f"two different declarations are both named {node.ref!r}")
        return {"$ref": self.base + node.ref}


class Node(ABC):
    """One kind of value: `read` parses and checks it, `json_schema` says what it accepts."""

    ref: str | None = None
    """Name of its JSON Schema definition; None: written inline where it is used."""

    @abstractmethod
    def read(self, reader: FieldReader, value: Any, where: str) -> Any:
        """The checked value (raise ``reader.fail(where, ...)`` otherwise)."""

    @abstractmethod
    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        """What the value may be, in JSON Schema draft-07."""

    def subfields(self) -> Iterator[tuple[tuple[str, ...], Any]]:
        """(path, field) of every declared field under this value (mappings have some)."""
        return iter(())


@dataclass(frozen=True)
class Flag(Node):
    """``true`` or ``false``."""

    def read(self, reader: FieldReader, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise reader.fail(where, f"expected true or false, got {kind(value)}")
        return value

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Choice(Node):
    """One of ``choices``; ``refused`` ones have a reason of their own.

    With ``setting`` the value is first read as a VAULT_* value (a trimmed string); with
    ``fold_case`` it is compared in lower case (kept as written). The schema takes the
    choices as written, in lower case only.
    """

    choices: tuple[str, ...]
    setting: bool = False
    fold_case: bool = False
    expected: str = ""
    """What an error says is expected; default ``one of <choices>``."""
    refused: Mapping[str, str] = field(default_factory=dict)
    """Choice -> why it is refused (it is not in the schema's enum)."""
    ref: str | None = None

    def read(self, reader: FieldReader, value: Any, where: str) -> Any:
        if self.setting:
            value = reader.setting(value, where)
        folded = value.lower() if self.fold_case and isinstance(value, str) else value
        if folded in self.refused:
            raise reader.fail(where, self.refused[folded])
        if folded not in self.choices:
            expected = self.expected or f"one of {', '.join(self.allowed)}"
            raise reader.fail(where, f"expected {expected}")
        return value

    @property
    def allowed(self) -> tuple[str, ...]:
        """The choices that are not refused."""
        return tuple(c for c in self.choices if c not in self.refused)

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        if len(self.allowed) == 1:
            return {"type": "string", "const": self.allowed[0]}
        return {"type": "string", "enum": list(self.allowed)}


@dataclass(frozen=True)
class Integer(Node):
    """A whole number from ``minimum`` to ``maximum`` (never a boolean)."""

    minimum: int
    maximum: int
    expected: str

    def read(self, reader: FieldReader, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise reader.fail(where, f"expected {self.expected}")
        if not self.minimum <= value <= self.maximum:
            raise reader.fail(where, f"expected {self.expected}")
        return value

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}


@dataclass(frozen=True)
class Quantity(Node):
    """A Kubernetes quantity such as ``64Mi`` or ``1024`` (a string or a whole number)."""

    ref: str | None = "quantity"

    def read(self, reader: FieldReader, value: Any, where: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise reader.fail(where, f"expected a quantity such as 64Mi, got {kind(value)}")
        text = str(value)
        if not re.match(QUANTITY_PATTERN, text):
            raise reader.fail(where, f"expected a quantity such as 64Mi, got {text!r}")
        return text

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        return {"type": ["string", "integer"], "minimum": 0, "pattern": QUANTITY_PATTERN}


@dataclass(frozen=True)
class Text(Node):
    """A non-empty string, trimmed, that ``pattern`` matches in full (``expected`` otherwise).

    The schema does not trim: a value with stray blanks is refused at install.
    """

    pattern: str = r"\S"
    expected: str = ""
    max_length: int | None = None
    check: Callable[[str], bool] | None = None
    """The reader's test, when it is a function rather than ``pattern`` (same rule)."""
    ref: str | None = None

    def read(self, reader: FieldReader, value: Any, where: str) -> str:
        text = reader.string(value, where)
        good = self.check(text) if self.check else re.search(self.pattern, text) is not None
        if not good:
            raise reader.fail(where, f"expected {self.expected}")
        return text

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        out: JsonSchema = {"type": "string"}
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        out["pattern"] = self.pattern
        return out


SECRET_NAME: Final = Text(
    validation.DNS1123_SUBDOMAIN_PATTERN,
    f"a Secret name, {validation.DNS1123_SUBDOMAIN}",
    validation.MAX_SUBDOMAIN,
    validation.is_secret_name,
    ref="secretName",
)
"""The name of a Secret (a DNS-1123 subdomain)."""
DNS_LABEL: Final = Text(
    validation.DNS1123_LABEL_PATTERN,
    validation.DNS1123_LABEL,
    validation.MAX_LABEL,
    validation.is_dns1123_label,
)
"""A DNS-1123 label (a profile name)."""


@dataclass(frozen=True)
class Setting(Node):
    """A VAULT_* value: a non-empty string or a number (as YAML gives it), trimmed.

    With ``pattern`` it must be a string (quoted, as Rook's ``connectionDetails``, a map of
    strings, take it) that matches (``expected`` otherwise), and ``check`` may say what the
    pattern cannot (the schema has the pattern only); with ``secret_key`` it names a Secret,
    Rook's way (the schema takes numbers too: a Secret may be called ``7``).
    """

    pattern: str | None = None
    expected: str = ""
    secret_key: str | None = None
    """The data key of the Secret the value names (Rook's TLS settings); None: not a name."""
    ref: str | None = None
    check: Callable[[str], bool] | None = None
    """With ``pattern``: a further test of the value (a range, a minimum)."""

    def read(self, reader: FieldReader, value: Any, where: str) -> str:
        if self.pattern is not None and not isinstance(value, str | bool):
            raise reader.fail(where, f"expected a string (quote it), got {kind(value)}")
        text = reader.setting(value, where)
        if self.pattern is not None and not (
            re.match(self.pattern, text) and (self.check is None or self.check(text))
        ):
            raise reader.fail(where, f"expected {self.expected}")
        if self.secret_key is not None and not validation.is_secret_name(text):
            raise reader.fail(
                where,
                f"expected the name of a Secret with key {self.secret_key} (Rook's convention)",
            )
        return text

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        if self.secret_key is not None:
            return {
                "type": ["string", "integer"],
                "minimum": 0,
                "maxLength": validation.MAX_SUBDOMAIN,
                "pattern": validation.DNS1123_SUBDOMAIN_PATTERN,
            }
        if self.pattern is not None:
            return {"type": "string", "pattern": self.pattern}
        return {"type": ["string", "integer"], "pattern": r"\S"}


@dataclass(frozen=True)
class Converted(Node):
    """``node``'s value passed through ``convert`` (the schema is ``node``'s)."""

    node: Node
    convert: Callable[[Any], Any]

    def read(self, reader: FieldReader, value: Any, where: str) -> Any:
        return self.convert(self.node.read(reader, value, where))

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        return ctx.of(self.node)

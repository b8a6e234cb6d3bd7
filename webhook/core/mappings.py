"""Mappings and lists of declared fields, and the rules between fields, read and described once.

A `Record` is a mapping whose fields are declared (`Field`: name, kind of value, required or not,
description, the profile types that may set it). It reads a parsed YAML mapping in a fixed order,
so the first error reported is predictable:

1. the value is a mapping, and every key is a declared field (or a refused key, with its reason);
2. the required fields are there, and each rule's ``before`` (which fields go together);
3. every field's value, in file order;
4. each rule's ``after`` (what the values mean together), then ``make`` builds the result.

Each piece also writes its JSON Schema, which is how ``values.schema.json`` is generated from
this declaration. The rules themselves are in `webhook.core.record_rules`. Pure: standard library
only.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from webhook.core.fields import FieldReader, JsonSchema, Node, SchemaContext, below, kind

Data = Mapping[str, Any]
"""A mapping as YAML gave it, or the values read from one."""


@dataclass(frozen=True)
class Field:
    """One field of a `Record`."""

    name: str
    node: Node
    doc: str = ""
    """Its description in the chart's schema (and README)."""
    required: bool = False
    attr: str | None = None
    """The keyword ``make`` receives it as; default: ``name``."""
    types: tuple[str, ...] = ()
    """The profile types that may set it; empty: every type (a `TypeLimits` rule checks)."""

    def schema(self, ctx: SchemaContext) -> JsonSchema:
        """The value's schema, with the description."""
        out = dict(ctx.of(self.node))
        if self.doc:
            out["description"] = self.doc
        return out


class Rule(ABC):
    """A rule between the fields of one `Record`: checked by `before` and/or `after`, and said in
    JSON Schema by `schema` (every rule must say itself there, or the chart would lack it)."""

    def before(  # noqa: B027 (optional: most rules check one phase)
        self, record: Record, reader: FieldReader, data: Data, where: str
    ) -> None:
        """Checked on the raw mapping, before any value is read."""

    def after(  # noqa: B027 (optional: most rules check one phase)
        self, record: Record, reader: FieldReader, data: Data, values: Data, where: str
    ) -> None:
        """Checked once every value is read (``values``: field name -> value read)."""

    @abstractmethod
    def schema(self, record: Record, ctx: SchemaContext) -> list[JsonSchema]:
        """The rule as ``allOf`` entries of the record's schema."""

    def check_declaration(self, record: Record) -> None:  # noqa: B027 (optional)
        """Raise `ValueError` when the rule does not fit ``record`` (a mistake in the code)."""


@dataclass(frozen=True)
class Record(Node):
    """A mapping of declared fields, built by ``make(**values)`` once read and checked."""

    fields: tuple[Field, ...]
    make: Callable[..., Any] = dict
    rules: tuple[Rule, ...] = ()
    doc: str = ""
    expected: str = "a mapping"
    """What a value that is not a mapping is told it should be."""
    unknown: str = ""
    """The problem of an undeclared key; default: the list of the fields."""
    refused: Mapping[str, str] = field(default_factory=dict)
    """Keys refused with a reason of their own (they are not fields)."""
    absent_is_empty: bool = False
    """Whether ``null`` reads as an empty mapping (the defaults)."""
    ref: str | None = None
    by_name: Mapping[str, Field] = field(init=False, repr=False, compare=False)
    """The fields by name, in declared order."""
    _required: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _attrs: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {f.name: f for f in self.fields}
        if len(by_name) != len(self.fields):
            raise ValueError(f"a field is declared twice: {[f.name for f in self.fields]}")
        # Looked up for every key read: computed once (the dataclass is frozen).
        object.__setattr__(self, "by_name", by_name)
        object.__setattr__(self, "_required", tuple(f.name for f in self.fields if f.required))
        object.__setattr__(self, "_attrs", {f.name: f.attr or f.name for f in self.fields})
        for rule in self.rules:
            rule.check_declaration(self)

    @property
    def names(self) -> tuple[str, ...]:
        """The field names, in declared order."""
        return tuple(self.by_name)

    def declared(self, name: str) -> Field:
        """The declared field called ``name``."""
        return self.by_name[name]

    def without(self, *names: str, doc: str | None = None) -> Record:
        """This record without the fields ``names`` (and rules), as another document shows it."""
        kept = tuple(f for f in self.fields if f.name not in names)
        return Record(kept, self.make, (), self.doc if doc is None else doc, ref=None)

    def read(self, reader: FieldReader, value: Any, where: str) -> Any:
        if value is None and self.absent_is_empty:
            value = {}
        if not isinstance(value, Mapping):
            raise reader.fail(where, f"expected {self.expected}, got {kind(value)}")
        for key in value:
            if key in self.refused:
                raise reader.fail(below(where, key), self.refused[key])
            if key not in self.by_name:
                problem = (
                    self.unknown or f"unknown field (expected one of: {', '.join(self.names)})"
                )
                raise reader.fail(below(where, key), problem)
        for name in self._required:
            if name not in value:
                raise reader.fail(below(where, name), "required field is missing")
        for rule in self.rules:
            rule.before(self, reader, value, where)
        by_name = self.by_name
        values = {
            key: by_name[key].node.read(reader, item, below(where, key))
            for key, item in value.items()
        }
        for rule in self.rules:
            rule.after(self, reader, value, values, where)
        attrs = self._attrs
        return self.make(**{attrs[key]: item for key, item in values.items()})

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        out: JsonSchema = {"type": "object", "additionalProperties": False}
        required = [f.name for f in self.fields if f.required]
        if required:
            out["required"] = required
        if self.doc:
            out["description"] = self.doc
        out["properties"] = {f.name: f.schema(ctx) for f in self.fields}
        rules = [entry for rule in self.rules for entry in rule.schema(self, ctx)]
        if rules:
            out["allOf"] = rules
        return out

    @functools.cached_property
    def limited(self) -> tuple[tuple[tuple[str, ...], Field], ...]:
        """(path, field) of every field under this record declared for some types only."""
        return tuple((path, f) for path, f in self.subfields() if f.types)

    def subfields(self) -> Iterator[tuple[tuple[str, ...], Any]]:
        for declared in self.fields:
            yield (declared.name,), declared
            for path, inner in declared.node.subfields():
                yield (declared.name, *path), inner


@dataclass(frozen=True)
class ListOf(Node):
    """A list of ``item`` (``null``: none). With ``unique``, no item twice; with ``unique_by``,
    no two items share that attribute (draft-07 cannot say so: the chart's template checks)."""

    item: Node
    unique: bool = False
    unique_by: str | None = None
    noun: str = "item"
    """What an item is called in the duplicate error."""

    def read(self, reader: FieldReader, value: Any, where: str) -> tuple[Any, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise reader.fail(where, f"expected a list, got {kind(value)}")
        items: list[Any] = []
        seen: set[Any] = set()
        for index, raw in enumerate(value):
            item = self.item.read(reader, raw, f"{where}[{index}]")
            key = getattr(item, self.unique_by) if self.unique_by else item
            if (self.unique or self.unique_by) and key in seen:
                named = f"{where}[{index}]" + (f".{self.unique_by}" if self.unique_by else "")
                raise reader.fail(named, f"duplicate {self.noun} {key!r}")
            seen.add(key)
            items.append(item)
        return tuple(items)

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        out: JsonSchema = {"type": "array", "items": ctx.of(self.item)}
        if self.unique:
            out["uniqueItems"] = True
        return out

    def subfields(self) -> Iterator[tuple[tuple[str, ...], Any]]:
        return self.item.subfields()


@dataclass(frozen=True)
class MapOf(Node):
    """A mapping of any keys that ``keys`` accepts to values of ``value`` (labels, say), as
    ``((key, value), ...)`` in file order."""

    keys: Node
    value: Node

    def read(self, reader: FieldReader, value: Any, where: str) -> tuple[tuple[str, Any], ...]:
        if not isinstance(value, Mapping):
            raise reader.fail(where, f"expected a mapping, got {kind(value)}")
        return tuple(
            (
                self.keys.read(reader, key, f"{where} key {key!r}"),
                self.value.read(reader, item, below(where, key)),
            )
            for key, item in value.items()
        )

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        return {
            "type": "object",
            "propertyNames": ctx.of(self.keys),
            "additionalProperties": ctx.of(self.value),
        }


@dataclass(frozen=True)
class Either(Node):
    """A ``short`` value, or the ``long`` record when the value is a mapping."""

    short: Node
    long: Record
    doc: str = ""
    ref: str | None = None

    def read(self, reader: FieldReader, value: Any, where: str) -> Any:
        node = self.long if isinstance(value, Mapping) else self.short
        return node.read(reader, value, where)

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        out: JsonSchema = {"description": self.doc} if self.doc else {}
        out["oneOf"] = [ctx.of(self.short), ctx.of(self.long)]
        return out

    def subfields(self) -> Iterator[tuple[tuple[str, ...], Any]]:
        return self.long.subfields()

"""The rules between the fields of a `Record`: which go together, which exclude each other.

Each rule checks a mapping as the parser reads it (`Rule.before` on the raw keys, `Rule.after`
on the values read) and says the same as JSON Schema ``allOf`` entries, so the chart refuses
what the parser refuses. Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhook.core.fields import FieldReader, JsonSchema, SchemaContext
from webhook.core.mappings import Data, Record, Rule


def required(*names: str) -> JsonSchema:
    """``{"required": [...]}``."""
    return {"required": list(names)}


def any_of_present(names: Sequence[str]) -> JsonSchema:
    """A schema that holds when any of ``names`` is present."""
    return required(*names) if len(names) == 1 else {"anyOf": [required(n) for n in names]}


@dataclass(frozen=True)
class Kind:
    """One kind of a record with kinds: the key that selects it and the fields it takes."""

    key: str
    takes: tuple[str, ...] = ()
    alone: bool = False
    """Whether it excludes the other kinds and every field it does not take (when its key is
    there, it is the kind); otherwise exactly one of the kinds that are not alone is chosen."""
    why: str = ""
    """Why it refuses the fields it does not take (said in the error)."""


@dataclass(frozen=True)
class Kinds(Rule):
    """Exactly one kind's key (an ``alone`` kind's key, or one of the others) and only the fields
    that kind takes."""

    kinds: tuple[Kind, ...]

    def __post_init__(self) -> None:
        if sum(k.alone for k in self.kinds) > 1:
            raise ValueError("at most one kind may stand alone")

    @property
    def others(self) -> tuple[Kind, ...]:
        """The kinds that are not alone: exactly one of them, unless the alone one."""
        return tuple(k for k in self.kinds if not k.alone)

    @property
    def alone(self) -> Kind | None:
        """The kind that stands alone, if any."""
        return next((k for k in self.kinds if k.alone), None)

    def check_declaration(self, record: Record) -> None:
        keys = {k.key for k in self.kinds}
        for name in record.names:
            if name not in keys and not any(name in k.takes for k in self.kinds):
                raise ValueError(f"field {name!r} is taken by no kind: add it to a Kind's takes")

    def before(self, record: Record, reader: FieldReader, data: Data, where: str) -> None:
        alone = self.alone
        if alone is not None and alone.key in data:
            for other in data:
                if other != alone.key and other not in alone.takes:
                    raise reader.fail(
                        f"{where}.{other}", f"not allowed with {alone.key!r} ({alone.why})"
                    )
            return
        chosen = [k for k in self.others if k.key in data]
        if len(chosen) != 1:
            ones = " or ".join(repr(k.key) for k in self.others)
            also = f" (or {alone.key!r})" if alone is not None else ""
            raise reader.fail(where, f"expected exactly one of {ones}{also}")
        (selected,) = chosen
        for other in data:
            if other != selected.key and other not in selected.takes:
                takers = " or ".join(repr(k.key) for k in self.kinds if other in k.takes)
                raise reader.fail(
                    f"{where}.{other}", f"only allowed with {takers} ({selected.why})"
                )

    def schema(self, record: Record, ctx: SchemaContext) -> list[JsonSchema]:
        keys = [k.key for k in self.kinds]
        out: list[JsonSchema] = [{"oneOf": [required(k.key) for k in self.others]}]
        alone = self.alone
        if alone is not None:
            rest = [n for n in record.names if n not in (alone.key, *alone.takes)]
            then = {"not": any_of_present(rest)}
            out = [{"if": required(alone.key), "then": then, "else": out[0]}]
        for kind_ in self.others:
            refused = [n for n in record.names if n not in (*keys, *kind_.takes)]
            if refused:
                out.append({"if": required(kind_.key), "then": {"not": any_of_present(refused)}})
        return out


@dataclass(frozen=True)
class Together(Rule):
    """Fields that come together: one of them without the others is an error on the missing."""

    names: tuple[str, ...]
    problem: str = "required with the other half of the pair"

    def before(self, record: Record, reader: FieldReader, data: Data, where: str) -> None:
        present = [n for n in self.names if n in data]
        if present:
            for name in self.names:
                if name not in data:
                    raise reader.fail(f"{where}.{name}", self.problem)

    def schema(self, record: Record, ctx: SchemaContext) -> list[JsonSchema]:
        deps = {n: [o for o in self.names if o != n] for n in self.names}
        return [{"dependencies": deps}]


@dataclass(frozen=True)
class KeysNotWith(Rule):
    """With ``other`` present, the mapping ``target`` may not hold ``keys``."""

    target: str
    other: str
    keys: frozenset[str]

    def after(
        self, record: Record, reader: FieldReader, data: Data, values: Data, where: str
    ) -> None:
        if self.other in data and isinstance(data.get(self.target), Mapping):
            for key in data[self.target]:
                if key in self.keys:
                    raise reader.fail(
                        f"{where}.{self.target}.{key}",
                        f"set by {self.other}; remove it or the {self.other}",
                    )

    def schema(self, record: Record, ctx: SchemaContext) -> list[JsonSchema]:
        names = {"not": {"enum": sorted(self.keys)}}
        return [
            {
                "if": required(self.target, self.other),
                "then": {"properties": {self.target: {"propertyNames": names}}},
            }
        ]


@dataclass(frozen=True)
class TypeLimits(Rule):
    """The fields declared with ``types`` (anywhere under this record) only with those types."""

    type_field: str = "type"

    def after(
        self, record: Record, reader: FieldReader, data: Data, values: Data, where: str
    ) -> None:
        chosen = values.get(self.type_field)
        for path, declared in record.limited:
            if chosen not in declared.types and _present(data, path):
                raise reader.fail(
                    f"{where}.{'.'.join(path)}",
                    f"only allowed with type {' or '.join(declared.types)}",
                )

    def schema(self, record: Record, ctx: SchemaContext) -> list[JsonSchema]:
        out: list[JsonSchema] = []
        for path, declared in record.limited:
            absent: JsonSchema = {"not": required(path[-1])}
            for name in reversed(path[:-1]):
                absent = {"properties": {name: absent}}
            other_type = {"properties": {self.type_field: {"not": {"enum": list(declared.types)}}}}
            out.append({"if": {**required(self.type_field), **other_type}, "then": absent})
        return out


def _present(data: Any, path: tuple[str, ...]) -> bool:
    """Whether the raw mapping ``data`` has a value at ``path``."""
    for name in path:
        if not isinstance(data, Mapping) or name not in data:
            return False
        data = data[name]
    return True

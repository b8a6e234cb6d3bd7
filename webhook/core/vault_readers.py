"""Who reads a connection's VAULT_* settings, and the rules that hold a profile's values to them.

Each profile type feeds some Vault clients (`TYPE_READERS`: Portworx, Rook's pods, the
injector), whose rules `vsi_common.vault_values` holds. A type may give a setting when one of its
clients reads it (`setting_types`, declared on each field of `webhook.core.vault_connection`), a
value must suit every client of the type (`ReadersTake`, on the profile, which knows its type),
and ``secretNamespace`` is only for the Secret Portworx reads itself (`PortworxReads`). Each rule
says itself in JSON Schema too, so the chart refuses the same. Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from vsi_common import vault_values
from vsi_common.vault_values import INJECTOR, PORTWORX, ROOK
from webhook.core import constants as c
from webhook.core.fields import FieldReader, JsonSchema, SchemaContext
from webhook.core.mappings import Data, Record, Rule
from webhook.core.record_rules import required

TYPE_READERS: Final[Mapping[str, frozenset[str]]] = {
    c.TYPE_PORTWORX: frozenset({PORTWORX}),
    c.TYPE_PORTWORX_OPERATOR: frozenset({PORTWORX}),
    c.TYPE_ROOK_OSD: frozenset({INJECTOR}),
    c.TYPE_ROOK_KMS: frozenset({ROOK, INJECTOR}),
    c.TYPE_VOLUME_KEYS: frozenset({INJECTOR}),
}
"""Profile type -> the Vault clients its connection's settings reach (`vsi_common.vault_values`
readers): what a value must suit, and which settings a type may give at all."""
PORTWORX_TYPES: Final = (c.TYPE_PORTWORX, c.TYPE_PORTWORX_OPERATOR)
"""The profile types whose Vault client is Portworx."""


def setting_types(name: str) -> tuple[str, ...]:
    """The profile types that may give ``name`` (empty: every type): those a reader of it
    serves, and for a setting that says where requests go, those whose every client reads it."""
    allowed = tuple(
        kind for kind in c.PROFILE_TYPES if vault_values.allowed_for(name, TYPE_READERS[kind])
    )
    return () if len(allowed) == len(c.PROFILE_TYPES) else allowed


@dataclass(frozen=True)
class ReadersTake(Rule):
    """On a profile, which knows its type: every VAULT_* value of the connection suits every
    Vault client the type feeds (`TYPE_READERS`): ``VAULT_BACKEND: v2`` is Rook's spelling,
    which Portworx does not take. The fields checked what some client takes."""

    connection: str = "connection"
    """The profile's field holding the connection."""
    type_field: str = "type"
    """The profile's field naming its type."""
    paths: tuple[tuple[str, ...], ...] = (("values",), ("kms", "connectionDetails"))
    """Where the connection holds VAULT_* values."""

    def after(
        self, record: Record, reader: FieldReader, data: Data, values: Data, where: str
    ) -> None:
        readers = TYPE_READERS.get(values.get(self.type_field, ""))
        if readers is None:
            return
        for path in self.paths:
            settings: Any = data.get(self.connection)
            for key in path:
                settings = settings.get(key) if isinstance(settings, Mapping) else None
            if not isinstance(settings, Mapping):
                continue
            for name, value in settings.items():
                problem = vault_values.problem(str(name), str(value).strip(), readers)
                if problem is not None:
                    named = ".".join((self.connection, *path, str(name)))
                    raise reader.fail(f"{where}.{named}", problem)

    def schema(self, record: Record, ctx: SchemaContext) -> list[JsonSchema]:
        out: list[JsonSchema] = []
        for kind, readers in TYPE_READERS.items():
            narrowed = {
                name: {"enum": list(rule.accepted(readers))}
                for name, rule in vault_values.RULES.items()
                if rule.choices and rule.accepted(readers) != rule.accepted()
            }
            if not narrowed:
                continue
            at_paths: list[JsonSchema] = []
            for path in self.paths:
                node: JsonSchema = {"properties": narrowed}
                for key in reversed(path):
                    node = {"properties": {key: node}}
                at_paths.append(node)
            chosen = {**required(self.type_field), "properties": {self.type_field: {"const": kind}}}
            then = {"properties": {self.connection: {"allOf": at_paths}}}
            out.append({"if": chosen, "then": then})
        return out


@dataclass(frozen=True)
class PortworxReads(Rule):
    """``secretNamespace`` only for the Secret Portworx reads itself, which it calls px-vault."""

    field: str = "secretNamespace"
    """The field naming the namespace."""
    secret: str = "secret"  # noqa: S105 (a field name)
    """The field naming the Secret."""

    def after(
        self, record: Record, reader: FieldReader, data: Data, values: Data, where: str
    ) -> None:
        if self.field in values and values.get(self.secret) != c.DEFAULT_PX_SECRET:
            raise reader.fail(
                f"{where}.{self.field}",
                f"Portworx reads only a Secret named {c.DEFAULT_PX_SECRET} itself: name the "
                f"{self.secret} {c.DEFAULT_PX_SECRET}, or drop {self.field} (env in the pod's "
                "namespace reads any name)",
            )

    def schema(self, record: Record, ctx: SchemaContext) -> list[JsonSchema]:
        then = {"properties": {self.secret: {"const": c.DEFAULT_PX_SECRET}}}
        return [{"if": required(self.field), "then": {**required(self.secret), **then}}]

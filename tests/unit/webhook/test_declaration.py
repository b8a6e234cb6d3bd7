"""The declaration vocabulary of the profiles file: each piece reads and writes JSON Schema alike.

`webhook.core.fields`, `webhook.core.mappings` and `webhook.core.record_rules` are what a new
profile field is declared with (docs/profiles.md, "Adding a field"). A small declaration of
its own uses the pieces the real file does not use yet (a map of labels, a list of unique names,
kinds without one that stands alone, a field for some types only), and a table of documents is
checked with the parser and with the generated schema (jsonschema, draft-07): both accept the
same, and the parser names the field. The real file is checked against Helm in
tests/integration/charts/test_schema_and_parser.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest

from webhook.core.fields import (
    DNS_LABEL,
    TOP,
    Choice,
    Converted,
    FieldReader,
    Flag,
    Integer,
    SchemaContext,
    Text,
)
from webhook.core.mappings import Either, Field, ListOf, MapOf, Record
from webhook.core.record_rules import Kind, Kinds, TypeLimits
from webhook.errors import ConfigError


@dataclass(frozen=True)
class Item:
    name: str
    type: str
    labels: tuple[tuple[str, str], ...] = ()


SELECTOR = Record(
    (
        Field("matchLabels", MapOf(DNS_LABEL, Text())),
        Field("matchNames", ListOf(DNS_LABEL, unique=True, noun="name")),
    ),
    rules=(Kinds((Kind("matchLabels"), Kind("matchNames"))),),
)
ITEM = Record(
    (
        Field("name", DNS_LABEL, required=True),
        Field("type", Choice(("a", "b")), required=True),
        Field("size", Integer(1, 9, "a size from 1 to 9")),
        Field("only", Flag(), types=("b",)),
        Field("selector", SELECTOR),
        Field("alias", Either(Converted(Text(), str.upper), Record((Field("to", Text()),)))),
    ),
    lambda name, type, selector=None, **_: Item(
        name, type, (selector or {}).get("matchLabels", ())
    ),
    rules=(TypeLimits("type"),),
    ref="item",
)
FILE = Record((Field("items", ListOf(ITEM, unique_by="name", noun="item")),), absent_is_empty=True)


def schema() -> dict[str, Any]:
    ctx = SchemaContext(base="#/definitions/")
    return {**ctx.of(FILE), "definitions": ctx.defs}


VALIDATOR = jsonschema.Draft7Validator(schema())


def parsed(data: Any) -> Any:
    return FILE.read(FieldReader("f.yaml"), data, TOP)


def item(**more: Any) -> dict[str, Any]:
    return {"name": "x", "type": "a", **more}


CASES: list[tuple[Any, str | None]] = [
    # (document, the field the parser names; None: accepted)
    (None, None),
    ({"items": [item(), item(name="y", type="b", only=True)]}, None),
    ({"items": [item(selector={"matchLabels": {"app": "rook"}})]}, None),
    ({"items": [item(selector={"matchNames": ["a", "b"]}, alias="z", size=9)]}, None),
    ({"items": [item(alias={"to": "z"})]}, None),
    ({"items": [item(), item()]}, "items[1].name"),  # unique by name: the parser alone
    ({"items": "x"}, "items"),
    ({"items": [item(only=True)]}, "items[0].only"),
    ({"items": [item(only="yes", type="b")]}, "items[0].only"),
    ({"items": [item(size=0)]}, "items[0].size"),
    ({"items": [item(size=True)]}, "items[0].size"),
    ({"items": [item(type="c")]}, "items[0].type"),
    ({"items": [{"type": "a"}]}, "items[0].name"),
    ({"items": [item(selector={})]}, "items[0].selector"),
    ({"items": [item(selector={"matchLabels": {}, "matchNames": []})]}, "items[0].selector"),
    (
        {"items": [item(selector={"matchLabels": {"App": "x"}})]},
        "items[0].selector.matchLabels key",
    ),
    ({"items": [item(selector={"matchLabels": {"app": 5}})]}, "items[0].selector.matchLabels.app"),
    ({"items": [item(selector={"matchLabels": []})]}, "items[0].selector.matchLabels"),
    ({"items": [item(selector={"matchNames": ["a", "a"]})]}, "items[0].selector.matchNames[1]"),
    ({"items": [item(alias={"to": "z", "from": "y"})]}, "items[0].alias.from"),
    ({"items": [item(alias=[])]}, "items[0].alias"),
]


def test_the_parser_and_the_generated_schema_accept_the_same_and_the_parser_names_the_field() -> (
    None
):
    misses = []
    for document, field in CASES:
        try:
            parsed(document)
            said = None
        except ConfigError as exc:
            said = str(exc)
        if field is None and said is not None:
            misses.append(f"the parser refuses {document}: {said}")
        if field is not None and not (said or "").startswith(f"f.yaml: {field}"):
            misses.append(f"the parser should name {field} for {document}: {said}")
        schema_ok = VALIDATOR.is_valid(document if document is not None else {})
        if schema_ok != (field is None) and field != "items[1].name":
            misses.append(f"the schema {'accepts' if schema_ok else 'refuses'} {document}")
    assert not misses, "\n".join(misses)


def test_what_the_pieces_build() -> None:
    (first,) = parsed({"items": [item(selector={"matchLabels": {"app": "rook"}})]})["items"]
    assert first == Item("x", "a", (("app", "rook"),))


def test_mistakes_in_a_declaration_fail_when_it_is_made() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        Record((Field("a", Flag()), Field("a", Flag())))
    with pytest.raises(ValueError, match="taken by no kind"):
        Record((Field("a", Flag()), Field("b", Flag())), rules=(Kinds((Kind("a"),)),))
    with pytest.raises(ValueError, match="at most one kind"):
        Kinds((Kind("a", alone=True), Kind("b", alone=True)))
    ctx = SchemaContext()
    ctx.of(Choice(("x",), ref="same"))
    with pytest.raises(ValueError, match="both named 'same'"):
        ctx.of(Choice(("y",), ref="same"))

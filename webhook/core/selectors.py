"""``profiles[].namespaces`` and ``profiles[].namespaceSelector``: the namespaces a profile serves.

A Kubernetes LabelSelector (``matchLabels`` and ``matchExpressions`` with ``In``, ``NotIn``,
``Exists``, ``DoesNotExist``), read and checked as the API server checks one (label keys with an
optional DNS-subdomain prefix, values of at most 63 characters, ``values`` required by ``In`` and
``NotIn`` and refused by the other two), and matched as Kubernetes matches it: every term must
hold (`webhook.core.profiles.LabelSelector`). Declared as data like the rest of the file
(`webhook.core.mappings`), so the chart's schema says the same. Pure: standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from vsi_common import validation
from webhook.core.fields import (
    DNS_LABEL,
    Choice,
    FieldReader,
    JsonSchema,
    Node,
    SchemaContext,
    Text,
    kind,
)
from webhook.core.mappings import Data, Field, ListOf, MapOf, Record, Rule
from webhook.core.profiles import (
    OP_DOES_NOT_EXIST,
    OP_EXISTS,
    OPERATORS,
    WITH_VALUES,
    LabelSelector,
    Requirement,
)
from webhook.core.record_rules import required

_NAME: Final = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL_KEY_PATTERN: Final = f"^({_PREFIX}/)?{_NAME}$"
"""A label key: ``[prefix/]name`` (prefix a DNS-1123 subdomain, name 1-63 characters)."""
LABEL_VALUE_PATTERN: Final = f"^({_NAME})?$"
"""A label value: empty, or 1-63 characters as a key's name part."""
LABEL_KEY_EXPECTED: Final = (
    "a label key ([prefix/]name: name 1-63 letters, digits, '-', '_', '.', "
    "prefix a DNS-1123 subdomain)"
)


def is_label_key(key: str) -> bool:
    """Whether ``key`` is a label key the API server takes."""
    prefix, _, _ = key.rpartition("/")
    return re.fullmatch(LABEL_KEY_PATTERN, key) is not None and (
        len(prefix) <= validation.MAX_SUBDOMAIN
    )


LABEL_KEY: Final = Text(LABEL_KEY_PATTERN, LABEL_KEY_EXPECTED, check=is_label_key, ref="labelKey")
"""A label key."""


@dataclass(frozen=True)
class LabelValue(Node):
    """A label value: a string, empty or 1-63 characters (letters, digits, '-', '_', '.')."""

    ref: str | None = "labelValue"

    def read(self, reader: FieldReader, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise reader.fail(where, f"expected a label value (a string), got {kind(value)}")
        if re.fullmatch(LABEL_VALUE_PATTERN, value) is None:
            raise reader.fail(
                where, "expected a label value (at most 63 letters, digits, '-', '_', '.')"
            )
        return value

    def json_schema(self, ctx: SchemaContext) -> JsonSchema:
        return {"type": "string", "pattern": LABEL_VALUE_PATTERN}


@dataclass(frozen=True)
class ValuesByOperator(Rule):
    """``values`` non-empty with In/NotIn, absent (or empty) with Exists/DoesNotExist."""

    def after(
        self, record: Record, reader: FieldReader, data: Data, values: Data, where: str
    ) -> None:
        operator, given = values.get("operator"), values.get("values", ())
        if operator in WITH_VALUES and not given:
            raise reader.fail(f"{where}.values", f"required and non-empty with {operator}")
        if operator not in WITH_VALUES and given:
            raise reader.fail(f"{where}.values", f"must be empty with {operator}")

    def schema(self, record: Record, ctx: SchemaContext) -> list[JsonSchema]:
        def with_ops(ops: list[str]) -> JsonSchema:
            return {**required("operator"), "properties": {"operator": {"enum": ops}}}

        return [
            {
                "if": with_ops(sorted(WITH_VALUES)),
                "then": {**required("values"), "properties": {"values": {"minItems": 1}}},
            },
            {
                "if": with_ops([OP_EXISTS, OP_DOES_NOT_EXIST]),
                "then": {"properties": {"values": {"maxItems": 0}}},
            },
        ]


REQUIREMENT: Final = Record(
    (
        Field("key", LABEL_KEY, "The label key.", required=True),
        Field("operator", Choice(OPERATORS), "In, NotIn, Exists or DoesNotExist.", required=True),
        Field("values", ListOf(LabelValue()), "With In and NotIn: the values (at least one)."),
    ),
    Requirement,
    rules=(ValuesByOperator(),),
    ref="labelSelectorRequirement",
)
"""One ``matchExpressions`` entry."""
LABEL_SELECTOR: Final = Record(
    (
        Field(
            "matchLabels",
            MapOf(LABEL_KEY, LabelValue()),
            "Labels the namespace must carry, with these values.",
            attr="match_labels",
        ),
        Field(
            "matchExpressions",
            ListOf(REQUIREMENT),
            "Requirements on the namespace's labels (all must hold).",
            attr="match_expressions",
        ),
    ),
    LabelSelector,
    absent_is_empty=True,
    doc="A Kubernetes LabelSelector on the namespace's labels.",
    ref="labelSelector",
)
"""``profiles[].namespaceSelector``."""
NAMESPACES: Final = ListOf(DNS_LABEL, unique=True, noun="namespace")
"""``profiles[].namespaces``: namespace names, each once."""

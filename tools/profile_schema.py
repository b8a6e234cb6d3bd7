"""The chart's profile schema, generated from the webhook's own declaration of the profiles file.

What the chart writes into the profiles ConfigMap (templates/_helpers.tpl, ``vsi.config``):
``builtinProfiles``, ``profiles``, ``keyVolume`` and ``injector`` (whose ``image`` and
``imagePullPolicy`` come from ``image.*``), is declared once, in `webhook.core.config` (and
`webhook.core.vault_connection`), and parsed by that declaration. This tool writes the same
declaration as JSON Schema into ``values.schema.json``, under the top-level key ``$defs``, the
last key of the file. Everything before it is hand-written (replicaCount, image, certs, ...) and
left byte for byte as it is; it refers to the generated part only through
``{"$ref": "#/$defs/<name>"}`` (one for each of `TOP_LEVEL`, and ``image.pullPolicy``), which
this tool checks.

Run ``python -m tools.profile_schema`` to rewrite the generated part, ``--check`` to only compare
(exit 1 when it is stale). tests/integration/charts/test_schema_and_parser.py runs the check.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from webhook.core import config
from webhook.core.fields import JsonSchema, SchemaContext
from webhook.core.mappings import Record

CHART: Final = Path(__file__).resolve().parents[1] / "charts" / "vault-storage-injector"
SCHEMA_FILE: Final = CHART / "values.schema.json"
KEY: Final = "$defs"
"""The top-level key this tool owns: every generated definition, and nothing else, is under it."""
BASE: Final = f"#/{KEY}/"
TOP_LEVEL: Final = ("builtinProfiles", "profiles", "injector", "keyVolume")
"""The chart values that are fields of the profiles file (``properties.<name>`` refers here)."""
FROM_IMAGE: Final = ("image", "imagePullPolicy")
"""``injector`` fields the chart fills from ``image.*`` (one image for everything)."""
PULL_POLICY: Final = "imagePullPolicy"
"""The definition ``image.pullPolicy`` refers to (it becomes ``injector.imagePullPolicy``)."""
CHART_DOCS: Final = {
    "profiles": "Profiles, as in docs/profiles.md: rendered into the webhook's ConfigMap "
    "(config.yaml).",
    "injector": "The injected vsi-injector init container (its image and pull policy are image.*).",
}
"""Descriptions that say how the chart fills a field, where the declaration's would not."""
_KEY_AT: Final = re.compile(r'"\$defs"\s*:')


class SchemaFileError(Exception):
    """values.schema.json cannot take the generated part as it is (the message says why)."""


def generated(declaration: Record = config.PROFILES_FILE) -> dict[str, JsonSchema]:
    """The generated definitions: `TOP_LEVEL` as the chart takes them, then the named ones."""
    ctx = SchemaContext(base=BASE)
    injector = declaration.declared("injector").node
    if not isinstance(injector, Record):
        raise TypeError("the declaration's injector is not a record")
    top: dict[str, JsonSchema] = {}
    for name in TOP_LEVEL:
        if name == "injector":
            top[name] = ctx.of(injector.without(*FROM_IMAGE, doc=CHART_DOCS[name]))
            continue
        top[name] = declaration.declared(name).schema(ctx)
        if name in CHART_DOCS:
            top[name]["description"] = CHART_DOCS[name]
    ctx.of(injector.declared(PULL_POLICY).node)
    return {**top, **ctx.defs}


def _refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` under ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def hand_written_problems(document: JsonSchema, defs: dict[str, JsonSchema]) -> list[str]:
    """What is wrong with how the hand-written part refers to the generated one."""
    problems = []
    properties = document.get("properties", {})
    for name in TOP_LEVEL:
        if properties.get(name) != {"$ref": BASE + name}:
            problems.append(f'properties.{name} must be {{"$ref": "{BASE}{name}"}}')
    pull = properties.get("image", {}).get("properties", {}).get("pullPolicy", {})
    if pull.get("$ref") != BASE + PULL_POLICY:
        problems.append(
            f'properties.image.properties.pullPolicy must refer to "{BASE}{PULL_POLICY}"'
        )
    hand = {k: v for k, v in document.items() if k != KEY}
    for ref in sorted(set(_refs(hand))):
        if ref.startswith(BASE) and ref.removeprefix(BASE) not in defs:
            problems.append(f"{ref} is not a generated definition")
    return problems


def render(defs: dict[str, JsonSchema]) -> str:
    """``"$defs": {...}`` as it sits at the end of the file (two-space JSON, one level in)."""
    body = json.dumps(defs, indent=2, ensure_ascii=False).replace("\n", "\n  ")
    return f'"{KEY}": {body}\n}}\n'


def expected_text(text: str, declaration: Record = config.PROFILES_FILE) -> str:
    """``text`` (values.schema.json) with its generated part rewritten, the rest unchanged."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaFileError(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SchemaFileError("the top level is not an object")
    defs = generated(declaration)
    problems = hand_written_problems(document, defs)
    if problems:
        raise SchemaFileError("; ".join(problems))
    if KEY in document:
        if list(document)[-1] != KEY:
            raise SchemaFileError(f"{KEY!r} must be the last top-level key (move the others up)")
        start = [m.start() for m in _KEY_AT.finditer(text)][-1]
        head = text[:start]
        rest = {k: v for k, v in document.items() if k != KEY}
        if json.loads(head.rstrip().removesuffix(",") + "\n}") != rest:
            raise SchemaFileError(f"cannot find where {KEY!r} starts")
        return head + render(defs)
    head = text.rstrip()
    if not head.endswith("}"):
        raise SchemaFileError("the file does not end with its closing brace")
    return head[:-1].rstrip() + ",\n  " + render(defs)


def main(argv: Sequence[str] | None = None, path: Path = SCHEMA_FILE) -> int:
    """Rewrite the generated part of values.schema.json, or with ``--check`` compare only."""
    args = list(sys.argv[1:] if argv is None else argv)
    text = path.read_text(encoding="utf-8")
    try:
        wanted = expected_text(text)
    except SchemaFileError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    if "--check" in args:
        if wanted != text:
            print(
                f"{path}: the profile schema is stale: run python -m tools.profile_schema",
                file=sys.stderr,
            )
            return 1
        return 0
    path.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The chart README documents every value, generated from values.schema.json and values.yaml."""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.integration.charts.conftest import CHART
from tools import chart_readme


def rows() -> dict[str, list[str]]:
    readme = (CHART / "README.md").read_text()
    table = readme.split(chart_readme.START, 1)[1].split(chart_readme.END, 1)[0]
    found = {}
    for line in table.strip().splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        found[cells[0].strip("`")] = cells[1:]
    return found


def test_the_values_table_is_current() -> None:
    readme, schema, values = chart_readme.load()
    assert chart_readme.expected_readme(readme, schema, values) == readme, (
        "run: python -m tools.chart_readme"
    )
    assert chart_readme.main(["--check"]) == 0


def test_every_value_has_a_type_and_says_what_it_does() -> None:
    table = rows()
    assert len(table) > 40
    for name, (kind, _, description) in table.items():
        assert kind, name
        assert description, f"{name}: no description in values.schema.json"


def test_every_key_of_values_yaml_has_a_row() -> None:
    _, _, values = chart_readme.load()
    table = rows()

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            name = f"{prefix}.{key}" if prefix else key
            assert name in table, f"values.yaml: {name} is not in the README"
            if isinstance(value, dict) and table[name][1] == "(below)":
                walk(value, name)

    walk(values, "")


def test_a_changed_description_makes_the_table_stale() -> None:
    readme, schema, values = chart_readme.load()
    changed = copy.deepcopy(schema)
    changed["properties"]["replicaCount"]["description"] = "something else"
    assert chart_readme.expected_readme(readme, changed, values) != readme
    changed_values = {**values, "replicaCount": 3}
    assert chart_readme.expected_readme(readme, schema, changed_values) != readme

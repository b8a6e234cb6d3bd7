"""Check the import-linter contracts themselves, so that loosening one fails `make lint` too.

import-linter checks the code against the contracts; nothing checks the contracts. Deleting a
forbidden contract's ``allow_indirect_imports = false`` line still passes (false is the default),
but it is the line that says the pure core is proven free of I/O libraries through every path, so
every forbidden contract must state it. Every root package must also have an ``exhaustive`` layers
contract over itself, so that a new module has to be given a layer. Exit 0 when the contracts
hold, 1 with one line per problem otherwise.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def problems(config: Mapping[str, Any]) -> list[str]:
    """What is wrong with the ``[tool.importlinter]`` table of a parsed pyproject.toml."""
    linter = config.get("tool", {}).get("importlinter", {})
    contracts: Sequence[Mapping[str, Any]] = linter.get("contracts", [])
    found: list[str] = []
    if not contracts:
        return ["pyproject.toml: no import-linter contracts"]
    if linter.get("include_external_packages") is not True:
        found.append("tool.importlinter: include_external_packages must be true")
    for contract in contracts:
        name = contract.get("name", "?")
        if (
            contract.get("type") == "forbidden"
            and contract.get("allow_indirect_imports") is not False
        ):
            found.append(f"contract {name!r}: must say allow_indirect_imports = false")
    layered = {
        container
        for contract in contracts
        if contract.get("type") == "layers" and contract.get("exhaustive") is True
        for container in contract.get("containers", [])
    }
    for package in linter.get("root_packages", []):
        if package not in layered:
            found.append(f"package {package!r}: no exhaustive layers contract over it")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Check ``argv[0]`` (default: the project's pyproject.toml)."""
    path = Path(argv[0]) if argv else PYPROJECT
    found = problems(tomllib.loads(path.read_text()))
    for problem in found:
        print(f"{path.name}: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

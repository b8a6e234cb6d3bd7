"""The layer contracts bite: breaking one, or loosening one, fails `make lint`.

import-linter runs on a copy of the tree with one line changed, so the real tree is never touched;
the contract meta-check (`tools.contracts`) runs on a copy of pyproject.toml without one line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tools import contracts

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("webhook", "injector", "certs", "vsi_common")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def copy_tree(target: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", target / "pyproject.toml")
    return target


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def broken(output: str) -> list[str]:
    """The names of the contracts lint-imports reports BROKEN (it wraps long names)."""
    listing = " ".join(output.split("Contracts:")[0].split())
    parts = re.split(r" (KEPT|BROKEN)\b", listing)
    return [
        name for name, status in zip(parts[::2], parts[1::2], strict=False) if status == "BROKEN"
    ]


def append_line(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line + "\n")


def test_the_contracts_hold_on_the_real_tree(tmp_path: Path) -> None:
    result = lint_imports(copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout[-2000:]
    assert contracts.problems(tomllib.loads((REPO / "pyproject.toml").read_text())) == []


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("webhook/core/patch.py", "import aiohttp", "Pure core reaches no I/O library"),
        # Indirect: the shared Kubernetes module imports aiohttp and kubernetes_asyncio.
        ("webhook/core/shapes.py", "from vsi_common import kube", "Pure core reaches no I/O"),
        ("webhook/core/profiles.py", "import webhook.server.app", "webhook layers"),
        ("vsi_common/names.py", "import webhook.errors", "shared package depends on none"),
        ("injector/layouts.py", "import requests", "Pure core reaches no I/O library"),
        # One per injector package: each has its own layers contract.
        ("injector/redact.py", "import injector.run", "injector layers"),
        ("injector/vault/schemas.py", "import injector.vault.replies", "injector.vault layers"),
        ("injector/settings/model.py", "import injector.settings.flags", "injector.settings"),
        ("injector/keys/output.py", "import injector.keys.luks", "injector.keys:"),
        ("injector/check/tls.py", "import injector.check.keys", "injector.check layers"),
        ("injector/check/tls.py", "import injector.vault.transport", "TLS diagnosis reach no"),
    ],
)
def test_an_import_across_a_layer_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    tree = copy_tree(tmp_path)
    append_line(tree / module, line)

    result = lint_imports(tree)

    assert result.returncode != 0
    assert any(contract in name for name in broken(result.stdout)), result.stdout[-2000:]


def test_deleting_allow_indirect_imports_fails_the_contract_check(tmp_path: Path) -> None:
    text = (REPO / "pyproject.toml").read_text()
    line = "allow_indirect_imports = false\n"
    assert line in text
    loosened = tmp_path / "pyproject.toml"
    loosened.write_text(text.replace(line, "", 1))

    assert contracts.main([str(loosened)]) == 1
    assert contracts.problems(tomllib.loads(loosened.read_text())) == [
        "contract 'Pure core reaches no I/O library, directly or through another module': "
        "must say allow_indirect_imports = false"
    ]


def test_a_package_without_exhaustive_layers_fails_the_contract_check(tmp_path: Path) -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract.get("containers") == ["injector"]:
            contract["exhaustive"] = False

    assert contracts.problems(config) == [
        "package 'injector': no exhaustive layers contract over it"
    ]


def test_the_architecture_page_places_every_module() -> None:
    doc = (REPO / "docs" / "architecture.md").read_text()
    sections = dict(
        zip(
            PACKAGES,
            [doc.split(f"### `{p}/`")[1].split("\n### ")[0] for p in PACKAGES],
            strict=True,
        )
    )
    missing = [
        f"{package}: {path.relative_to(REPO / package)}"
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if path.stem not in ("__init__", "__main__") and path.stem not in sections[package]
    ]
    assert missing == []

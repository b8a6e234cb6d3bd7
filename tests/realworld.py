"""The real Portworx and Rook objects of ``shared/reference/real-world`` (issue 23), when present.

Nobody on this project wrote them: Portworx's spec generator and Helm charts, the Portworx
operator's test specs and pod templates, StorageClusters, Rook's CephCluster examples, and every
Vault ``security.kms`` block of Rook's documentation and tests pasted into a profile (its
``SOURCES.md`` gives repository, path and commit). They are read as data, never copied into the
project: the tests build fixtures of their own with the same shapes, and also run over these
files where the folder is found (above the checkout, or at ``VSI_REAL_WORLD``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _find() -> Path | None:
    given = os.environ.get("VSI_REAL_WORLD")
    if given:
        return Path(given)
    for parent in ROOT.parents:
        folder = parent / "shared" / "reference" / "real-world"
        if folder.is_dir():
            return folder
    return None


FOLDER = _find()
"""The folder, or None when it is not there."""
PRESENT = FOLDER is not None and FOLDER.is_dir()
needs_folder = pytest.mark.skipif(not PRESENT, reason="shared/reference/real-world is absent")
"""Marks a test over the real objects: skipped, saying so, only when the folder is absent."""


def objects(prefix: str = "") -> list[Path]:
    """The real objects whose file names start with ``prefix`` (``p``: Portworx, ``r``: Rook)."""
    if not PRESENT or FOLDER is None:
        return []
    return sorted(p for p in FOLDER.glob(f"{prefix}*.yaml") if p.is_file())


def kms_blocks() -> list[Path]:
    """The profiles files made of Rook's ``security.kms`` blocks."""
    if not PRESENT or FOLDER is None:
        return []
    return sorted((FOLDER / "rook-kms-blocks").glob("*.yaml"))


def load(path: Path) -> Any:
    """The one document of ``path``."""
    return yaml.safe_load(path.read_text())

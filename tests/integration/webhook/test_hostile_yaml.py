"""Hostile YAML given to ``vsi-webhook mutate``, as a user would: one line, exit 2, bounded first.

The installed command runs as a subprocess with a memory-free failure expected: an alias bomb, a
deep nesting and a 100 MB document are each refused before anything is expanded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vsi_common import safeyaml

WEBHOOK = str(Path(sys.executable).parent / "vsi-webhook")


def _bomb(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\nkind: Pod\napiVersion: v1\n"


def _mutate(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WEBHOOK, "mutate", "-f", str(path), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (_bomb(), f"expands to more than {safeyaml.MAX_NODES} nodes"),
        ("[" * 100_000 + "]" * 100_000, f"nested deeper than {safeyaml.MAX_DEPTH} levels"),
        ("a:\n" + "  " * 1 + "b: " + "{c: " * 5000 + "1" + "}" * 5000, "nested deeper"),
    ],
    ids=["alias-bomb", "deep-flow", "deep-mapping"],
)
def test_hostile_yaml_is_one_line_and_exit_2(tmp_path: Path, body: str, said: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(body)

    done = _mutate(path, "-o", "json")

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"vsi-webhook: error: {path}: document 1: refused: ")
    assert said in done.stderr
    assert "Traceback" not in done.stderr


def test_a_100_mb_document_is_refused_by_its_size_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("w") as out:
        out.write("kind: Pod\napiVersion: v1\ndata: '")
        chunk = "x" * (1024 * 1024)
        for _ in range(100):
            out.write(chunk)
        out.write("'\n")

    done = _mutate(path)

    assert done.returncode == 2
    assert done.stderr == (
        f"vsi-webhook: error: {path}: larger than the "
        f"{safeyaml.MAX_BYTES // (1024 * 1024)} MiB limit\n"
    )


def test_a_profiles_file_with_an_alias_bomb_is_refused_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "profiles.yaml"
    config.write_text(_bomb())
    pod = tmp_path / "pod.yaml"
    pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n")

    done = _mutate(pod, "--config", str(config))

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert f"{config}: refused: expands to more than" in done.stderr


def test_ordinary_anchors_still_load() -> None:
    text = "a: &x {k: v}\nb: *x\n---\nc: [1, 2]\n"

    assert list(safeyaml.load_all(text)) == [{"a": {"k": "v"}, "b": {"k": "v"}}, {"c": [1, 2]}]

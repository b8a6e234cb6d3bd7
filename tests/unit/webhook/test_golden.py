"""Golden admission cases: a real AdmissionReview in, the full mutated object (values included) out.

Each folder under tests/golden holds ``request.json`` (as the kube-apiserver sends it),
``expected.json`` (the whole object after the patch), ``outcome.json`` and, when the webhook
warns, ``warnings.json``; optional ``cluster.json`` (cache contents) and ``config.yaml``. A case
built from a storage system's own pod template keeps that pod as ``pod.yaml``, commented with the
source it comes from; its ``request.json`` wraps exactly that object.
Set VSI_REGEN_GOLDEN=1 to rewrite the expected files (and the objects of the requests that have a
``pod.yaml``) after a deliberate change, then review them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml

from tests.unit.webhook.support import (
    GOLDEN,
    context_from_review,
    load_cluster,
    required_refs_to_absent,
    validate,
    validate_storage_cluster,
)
from webhook.core import constants as c
from webhook.core.config import load_config
from webhook.core.mutation import build_mutator

CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "request.json").exists())
REGEN = os.environ.get("VSI_REGEN_GOLDEN") == "1"
SCHEMA_CASES = [
    name
    for name in CASES
    if json.loads((GOLDEN / name / "request.json").read_text())["request"]["kind"]["kind"]
    != c.STORAGE_CLUSTER_KIND
]
"""Cases whose kind has an OpenAPI schema (StorageCluster is a CRD: checked field by field)."""


POD_CASES = sorted(name for name in CASES if (GOLDEN / name / "pod.yaml").exists())
"""Cases whose object is a commented pod fixture (``pod.yaml``)."""
ROOK_SOURCES = (
    "deploy/examples/operator.yaml",
    "pkg/operator/ceph/cluster/osd/provision_spec.go",
    "pkg/operator/ceph/cluster/osd/spec.go",
    "pkg/operator/ceph/cluster/osd/key_rotation.go",
)
"""Rook's files the pod fixtures are built from (release-1.18)."""


def _pod_fixture(case: Path) -> Any:
    """The object of ``pod.yaml`` as JSON would carry it (YAML anchors become copies)."""
    return json.loads(json.dumps(yaml.safe_load((case / "pod.yaml").read_text())))


def _run(case: Path) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    review = json.loads((case / "request.json").read_text())
    if REGEN and (case / "pod.yaml").exists():
        review["request"]["object"] = _pod_fixture(case)
        (case / "request.json").write_text(json.dumps(review, indent=2) + "\n")
    config_path = case / "config.yaml"
    mutator = build_mutator(load_config(config_path if config_path.exists() else None))
    obj = review["request"]["object"]
    result = mutator(obj, context_from_review(review, load_cluster(case)))
    mutated = jsonpatch.apply_patch(obj, list(result.ops))
    return review, result, mutated


def _expect(case: Path, name: str, actual: Any) -> Any:
    path = case / name
    if REGEN:
        path.write_text(json.dumps(actual, indent=2) + "\n")
    return json.loads(path.read_text()) if path.exists() else None


@pytest.mark.parametrize("name", CASES)
def test_golden_case_produces_the_expected_object_outcome_and_warnings(name: str) -> None:
    case = GOLDEN / name
    _, result, mutated = _run(case)
    assert mutated == _expect(case, "expected.json", mutated)
    outcome = {"outcome": result.outcome, "reason": result.reason, "profile": result.profile}
    assert outcome == _expect(case, "outcome.json", outcome)
    warnings = list(result.warnings)
    if warnings or (case / "warnings.json").exists():
        assert warnings == _expect(case, "warnings.json", warnings)


@pytest.mark.parametrize("name", POD_CASES)
def test_a_pod_fixture_is_the_request_object_and_names_its_source(name: str) -> None:
    case = GOLDEN / name
    review = json.loads((case / "request.json").read_text())
    assert review["request"]["object"] == _pod_fixture(case)
    header = (case / "pod.yaml").read_text().split("\napiVersion:", 1)[0]
    assert "release-1.18" in header
    assert [source for source in ROOK_SOURCES if source in header], header


def test_the_four_rook_pod_shapes_have_a_fixture_each() -> None:
    headers = [(GOLDEN / name / "pod.yaml").read_text() for name in POD_CASES]
    for source in ROOK_SOURCES:
        assert any(source in header for header in headers), source


@pytest.mark.parametrize("name", SCHEMA_CASES)
def test_golden_mutated_object_passes_strict_schema_validation(name: str) -> None:
    _, _, mutated = _run(GOLDEN / name)
    validate(mutated)


@pytest.mark.parametrize("name", sorted(set(CASES) - set(SCHEMA_CASES)))
def test_golden_storagecluster_env_and_volumes_validate_as_the_pod_the_operator_renders(
    name: str,
) -> None:
    """A StorageCluster is a CRD without a schema here; its env and volumes become the portworx
    container's env and the pod's volumes, which are checked against the Pod schema."""
    _, _, mutated = _run(GOLDEN / name)
    validate_storage_cluster(mutated)


@pytest.mark.parametrize("name", CASES)
def test_golden_output_requires_no_secret_the_cache_knows_is_absent(name: str) -> None:
    case = GOLDEN / name
    review, _, mutated = _run(case)
    namespace = review["request"].get("namespace", "")
    original = review["request"]["object"]
    assert required_refs_to_absent(mutated, namespace, load_cluster(case), original) == []


@pytest.mark.parametrize("name", CASES)
def test_golden_second_pass_over_the_output_is_an_empty_patch(name: str) -> None:
    case = GOLDEN / name
    review, _, mutated = _run(case)
    config_path = case / "config.yaml"
    mutator = build_mutator(load_config(config_path if config_path.exists() else None))
    again = mutator(mutated, context_from_review(review, load_cluster(case)))
    assert list(again.ops) == []


def test_storagecluster_changes_only_env_secrets_provider_and_annotations() -> None:
    review, result, mutated = _run(GOLDEN / "storagecluster")
    original = review["request"]["object"]
    assert result.outcome == "mutated"
    for key in ("spec", "metadata"):
        before, after = dict(original[key]), dict(mutated[key])
        for changed in ("env", "secretsProvider", "annotations"):
            before.pop(changed, None)
            after.pop(changed, None)
        assert before == after
    assert mutated["spec"]["secretsProvider"] == "vault"
    assert original["spec"]["env"] == mutated["spec"]["env"][: len(original["spec"]["env"])]
    assert {
        k: v for k, v in mutated["metadata"]["annotations"].items() if k != c.ANNOTATION_STATUS
    } == (original["metadata"]["annotations"])

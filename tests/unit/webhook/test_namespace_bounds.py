"""Issue 22, item 2: ``profiles[].namespaces`` and ``profiles[].namespaceSelector`` bind a profile
to namespaces; an object elsewhere is not served by it."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.webhook.support import GOLDEN, StaticCluster, context_from_review
from webhook.core import constants as c
from webhook.core.config import parse_config
from webhook.core.mutation import build_mutator
from webhook.core.selectors import LabelSelector, Requirement
from webhook.errors import ConfigError

ENABLED = {c.LABEL_ENABLED: c.ENABLED_VALUE}


def config(*profiles: str) -> str:
    """A file of volume-keys profiles, each ``name: ..., more``, without the built-ins."""
    body = ", ".join(
        f"{{type: volume-keys, connection: {{secret: s}}, name: {p}}}" for p in profiles
    )
    return f"builtinProfiles: false\nprofiles: [{body}]"


def refusal(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="p.yaml")
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)
    return str(info.value)


@pytest.mark.parametrize(
    ("more", "said"),
    [
        (
            "namespaceSelector: {matchExpressions: [{key: a, operator: Has}]}",
            "profiles[0].namespaceSelector.matchExpressions[0].operator: expected one of In, "
            "NotIn, Exists, DoesNotExist",
        ),
        (
            "namespaceSelector: {matchExpressions: [{key: a, operator: Exists}, "
            "{key: b, operator: NotIn, values: []}]}",
            "profiles[0].namespaceSelector.matchExpressions[1].values: required and non-empty "
            "with NotIn",
        ),
        (
            "namespaceSelector: {matchExpressions: "
            "[{key: a, operator: DoesNotExist, values: [x]}]}",
            "profiles[0].namespaceSelector.matchExpressions[0].values: must be empty with "
            "DoesNotExist",
        ),
        (
            "namespaceSelector: {matchExpressions: [{operator: Exists}]}",
            "profiles[0].namespaceSelector.matchExpressions[0].key: required",
        ),
        (
            "namespaceSelector: {matchLabels: {'a/b/c': x}}",
            "profiles[0].namespaceSelector.matchLabels key 'a/b/c': expected",
        ),
        (
            "namespaceSelector: {matchLabels: {team: '-x'}}",
            "profiles[0].namespaceSelector.matchLabels.team: expected a label",
        ),
        (
            "namespaceSelector: {matchLabel: {team: x}}",
            "profiles[0].namespaceSelector.matchLabel: unknown",
        ),
        ("namespaces: [db, db]", "profiles[0].namespaces[1]: duplicate namespace 'db'"),
        ("namespaces: [Db]", "profiles[0].namespaces[0]: expected a DNS-1123 label"),
        ("namespaces: db", "profiles[0].namespaces: expected a list"),
    ],
)
def test_a_bad_bound_is_one_line_naming_the_field(more: str, said: str) -> None:
    assert f"p.yaml: {said}" in refusal(config(f"keys, {more}"))


def test_label_keys_and_values_are_taken_as_the_api_server_takes_them() -> None:
    text = config(
        "keys, namespaceSelector: {matchLabels: {'example.com/team': db, tier: '', 'a_b.c-d': X1}}"
    )
    selector = parse_config(text, source="p").profiles[0].namespace_selector
    assert selector is not None
    assert dict(selector.match_labels) == {"example.com/team": "db", "tier": "", "a_b.c-d": "X1"}


@pytest.mark.parametrize(
    ("requirement", "labels", "matches"),
    [
        (Requirement("t", "In", ("a", "b")), {"t": "b"}, True),
        (Requirement("t", "In", ("a",)), {}, False),
        (Requirement("t", "NotIn", ("a",)), {}, True),  # as Kubernetes: a missing key is not in
        (Requirement("t", "NotIn", ("a",)), {"t": "a"}, False),
        (Requirement("t", "Exists"), {"t": ""}, True),
        (Requirement("t", "DoesNotExist"), {"t": ""}, False),
    ],
)
def test_requirements_match_as_kubernetes_matches_them(
    requirement: Requirement, labels: dict[str, str], matches: bool
) -> None:
    assert requirement.matches(labels) is matches
    assert LabelSelector(match_expressions=(requirement,)).matches(labels) is matches


def _review(annotation: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    review = json.loads((GOLDEN / "volume-keys-pod" / "request.json").read_text())
    obj = copy.deepcopy(review["request"]["object"])
    if annotation is not None:
        obj["metadata"].setdefault("annotations", {})[c.ANNOTATION_PROFILE] = annotation
    return review, obj


def _mutate(text: str, labels: dict[str, str] | None, annotation: str | None = None) -> Any:
    review, obj = _review(annotation)
    namespace = review["request"]["namespace"]
    cluster = None if labels is None else StaticCluster(namespaces={namespace: labels})
    return build_mutator(parse_config(text, source="p"))(obj, context_from_review(review, cluster))


def test_both_bounds_must_hold() -> None:
    text = config("keys, namespaces: [databases], namespaceSelector: {matchLabels: {team: db}}")
    assert _mutate(text, {**ENABLED, "team": "db"}).outcome == "mutated"
    result = _mutate(text, {**ENABLED, "team": "web"})
    assert (result.outcome, result.reason) == ("skipped", c.SKIP_NAMESPACE_NOT_SERVED)
    assert result.warnings == (
        "profile 'keys' serves only namespaces databases and namespaces labelled team=db, "
        "not 'databases'; object left unchanged",
    )


def test_an_explicit_profile_that_does_not_serve_the_namespace_is_refused_not_replaced() -> None:
    text = config("other, namespaces: [databases]", "keys, namespaces: [web]")
    result = _mutate(text, ENABLED, annotation="keys")
    assert (result.reason, result.profile, result.ops) == (c.SKIP_NAMESPACE_NOT_SERVED, "keys", ())
    assert "profile 'keys' serves only namespaces web, not 'databases'" in result.warnings[0]


def test_implicitly_the_first_profile_that_serves_the_namespace_is_chosen_silently() -> None:
    text = config("web, namespaces: [web]", "db, namespaceSelector: {matchLabels: {team: db}}")
    result = _mutate(text, {**ENABLED, "team": "db"})
    assert (result.outcome, result.profile) == ("mutated", "db")
    assert not any("serves only" in w for w in result.warnings)


def test_implicitly_with_none_serving_it_the_first_passed_over_is_named() -> None:
    text = config("web, namespaces: [web]", "ops, namespaces: [ops]")
    result = _mutate(text, ENABLED)
    assert (result.reason, result.profile) == (c.SKIP_NAMESPACE_NOT_SERVED, "web")


def test_with_a_selector_and_unknown_labels_the_profile_fails_safe() -> None:
    text = config("keys, namespaceSelector: {matchLabels: {team: db}}")
    result = _mutate(text, None)
    assert result.reason == c.SKIP_NAMESPACE_NOT_SERVED
    assert "labels of 'databases' unknown" in result.warnings[0]
    by_name = config("keys, namespaces: [databases]")
    assert _mutate(by_name, None).outcome == "mutated"  # names need no labels


def test_the_warning_stays_short_and_keeps_its_verdict() -> None:
    many = ", ".join(f"team-{i:02d}-with-a-long-name" for i in range(20))
    result = _mutate(config(f"keys, namespaces: [{many}]"), ENABLED)
    (warning,) = result.warnings
    assert len(warning) <= c.MAX_WARNING_LENGTH
    assert warning.startswith("profile 'keys' serves only namespaces team-00")
    assert warning.endswith("..., not 'databases'; object left unchanged")


def test_an_empty_list_serves_no_namespace() -> None:
    assert _mutate(config("keys, namespaces: []"), ENABLED).reason == c.SKIP_NAMESPACE_NOT_SERVED


POD = """apiVersion: v1
kind: Pod
metadata: {name: p, namespace: databases, annotations: {vault-storage-injector.io/inject: "true"}}
spec:
  containers: [{name: c, image: x, volumeMounts: [{name: d, mountPath: /d}]}]
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
"""


def _preview(tmp_path: Path, *more: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "p.yaml").write_text(config("keys, namespaceSelector: {matchLabels: {team: db}}"))
    (tmp_path / "pod.yaml").write_text(POD)
    (tmp_path / "cluster.json").write_text('{"namespaces": {"databases": {"team": "db"}}}')
    command = [sys.executable, "-m", "webhook", "mutate", "-f", str(tmp_path / "pod.yaml")]
    return subprocess.run(
        [*command, "--config", str(tmp_path / "p.yaml"), "-o", "patch", *more],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
    )


def test_the_preview_needs_the_namespace_labels_for_a_selector(tmp_path: Path) -> None:
    blind = _preview(tmp_path)
    assert blind.returncode == 0
    assert json.loads(blind.stdout) == []
    assert "labels of 'databases' unknown" in blind.stderr
    assert "unchanged (namespace-not-served)" in blind.stderr
    seeing = _preview(tmp_path, "--cluster", str(tmp_path / "cluster.json"))
    assert seeing.returncode == 0
    assert json.loads(seeing.stdout), "with the labels the profile serves the namespace"
    assert "namespace-not-served" not in seeing.stderr

"""The GitOps section of docs/install.md, held to what the webhook really changes.

Its Argo CD ``ignoreDifferences`` block is read from the page and evaluated as Argo CD does: each
``jsonPointers`` entry removed (RFC 6901), each ``jqPathExpressions`` entry deleted with jq
(``del(<expression>)``; Argo CD runs gojq, the jq package here runs jq's own library), from the
object of git and from the live one, before they are compared. For every golden DaemonSet and
StorageCluster case the webhook mutates, the block must hide every change (the request's object
and the expected result compare equal once normalised), and each entry must be needed by some
case (no stale entry, nothing listed that the webhook does not add). With Argo CD's legacy
three-way diff (`tests.gitops.three_way`, last-applied = git), the cases are OutOfSync without
the block and Synced with it. The block for the webhook's own objects hides the ``caBundle`` the
bootstrap writes and the Secrets' ``data``.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jq
import pytest
import yaml

from tests.gitops import three_way
from tests.integration.manifests.conftest import MANIFESTS
from tests.unit.webhook.support import GOLDEN
from webhook.core import constants as c

DOC = Path(__file__).resolve().parents[3] / "docs" / "install.md"
Obj = dict[str, Any]


def _blocks() -> list[list[Obj]]:
    """Every ``ignoreDifferences`` list in the GitOps section's YAML blocks."""
    section = DOC.read_text().split("\n## GitOps\n")[1].split("\n## ")[0]
    found = []
    for block in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL):
        loaded = yaml.safe_load(block)
        spec = loaded.get("spec", {}) if isinstance(loaded, dict) else {}
        if "ignoreDifferences" in spec:
            found.append(spec["ignoreDifferences"])
    return found


WORKLOAD_RULES, OWN_RULES = _blocks()
Rule = tuple[int, str, str]
"""(index of the ignoreDifferences entry, "jsonPointers" or "jqPathExpressions", the entry)."""


def _applies(entry: Obj, obj: Obj) -> bool:
    group = obj["apiVersion"].rpartition("/")[0]
    name = entry.get("name")
    return (
        entry.get("group", "") == group
        and entry["kind"] == obj["kind"]
        and name in (None, obj["metadata"].get("name"))
    )


def _rules(entries: list[Obj]) -> list[Rule]:
    return [
        (index, field, value)
        for index, entry in enumerate(entries)
        for field in ("jsonPointers", "jqPathExpressions")
        for value in entry.get(field, [])
    ]


def _remove_pointer(obj: Obj, pointer: str) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
    node: Any = obj
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(parts[-1], None)


def normalised(obj: Obj, entries: list[Obj], rules: list[Rule]) -> Obj:
    """``obj`` without the fields ``rules`` ignore (those of the entries that apply to it)."""
    out = copy.deepcopy(obj)
    for index, field, value in rules:
        if not _applies(entries[index], out):
            continue
        if field == "jsonPointers":
            _remove_pointer(out, value)
        else:
            out = jq.compile(f"del({value})").input_value(out).first()
    return out


def _pruned(node: Any) -> Any:
    """``node`` without empty lists and maps: a list the webhook created (a StorageCluster's
    ``spec.volumes``) is left empty by the deletions, which a three-way diff does not count
    (the key is in neither git nor the last-applied configuration: see the last tests)."""
    if isinstance(node, dict):
        kept = {k: _pruned(v) for k, v in node.items()}
        return {k: v for k, v in kept.items() if v not in ([], {})}
    if isinstance(node, list):
        return [_pruned(v) for v in node]
    return node


def _cases() -> list[tuple[str, Obj, Obj]]:
    """(name, git's object, the live object) of every golden DaemonSet and StorageCluster case
    the webhook mutates."""
    found = []
    for case in sorted(GOLDEN.iterdir()):
        request = case / "request.json"
        if not request.exists():
            continue
        review = json.loads(request.read_text())["request"]
        outcome = json.loads((case / "outcome.json").read_text())["outcome"]
        if review["kind"]["kind"] in ("DaemonSet", c.STORAGE_CLUSTER_KIND) and outcome == "mutated":
            expected = json.loads((case / "expected.json").read_text())
            found.append((case.name, review["object"], expected))
    return found


CASES = _cases()


def test_the_cases_cover_both_kinds_and_the_tls_volume() -> None:
    kinds = {git["kind"] for _, git, _ in CASES}
    assert kinds == {"DaemonSet", c.STORAGE_CLUSTER_KIND}
    assert any(c.TLS_VOLUME_NAME in json.dumps(live) for _, _, live in CASES)


@pytest.mark.parametrize(("case", "git", "live"), CASES, ids=[n for n, _, _ in CASES])
def test_the_ignored_fields_hide_every_change_the_webhook_makes(
    case: str, git: Obj, live: Obj
) -> None:
    rules = _rules(WORKLOAD_RULES)
    assert git != live
    hidden_git = _pruned(normalised(git, WORKLOAD_RULES, rules))
    assert hidden_git == _pruned(normalised(live, WORKLOAD_RULES, rules))


def test_every_ignored_field_is_one_the_webhook_adds() -> None:
    rules = _rules(WORKLOAD_RULES)
    for rule in rules:
        others = [r for r in rules if r != rule]
        needed = [
            name
            for name, git, live in CASES
            if _pruned(normalised(git, WORKLOAD_RULES, others))
            != _pruned(normalised(live, WORKLOAD_RULES, others))
        ]
        assert needed, f"no golden case needs {rule[1]} {rule[2]!r}"


@pytest.mark.parametrize(("case", "git", "live"), CASES, ids=[n for n, _, _ in CASES])
def test_argo_cds_legacy_diff_is_out_of_sync_without_the_block_and_synced_with_it(
    case: str, git: Obj, live: Obj
) -> None:
    strategic = git["kind"] != c.STORAGE_CLUSTER_KIND
    assert three_way(git, git, live, strategic=strategic) != live
    rules = _rules(WORKLOAD_RULES)
    g, li = normalised(git, WORKLOAD_RULES, rules), normalised(live, WORKLOAD_RULES, rules)
    assert three_way(g, g, li, strategic=strategic) == li


def test_the_webhooks_own_objects_hide_the_bootstrap_fields() -> None:
    base = {
        (o["kind"], o["metadata"]["name"]): o
        for o in yaml.safe_load_all((MANIFESTS / "base" / "certs-secrets.yaml").read_text())
        if o
    }
    config = yaml.safe_load((MANIFESTS / "base" / "mutatingwebhookconfiguration.yaml").read_text())
    base[("MutatingWebhookConfiguration", config["metadata"]["name"])] = config
    rules = _rules(OWN_RULES)
    for key, git in base.items():
        live = copy.deepcopy(git)
        if key[0] == "Secret":
            live["data"] = {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}
        else:
            for hook in live["webhooks"]:
                hook["clientConfig"]["caBundle"] = "Q0E="
        assert normalised(git, OWN_RULES, rules) == normalised(live, OWN_RULES, rules), key
        assert normalised(live, OWN_RULES, rules) != live, key
    assert {k for k in base if k[0] == "Secret"} == {
        ("Secret", "vault-storage-injector-tls"),
        ("Secret", "vault-storage-injector-ca"),
    }

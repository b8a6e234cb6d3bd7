"""A re-apply of the object git holds never rolls the Portworx DaemonSet nor changes the
StorageCluster (issue 28, item 3).

The unmutated object of git (golden DaemonSets and StorageClusters, our own fixtures of the same
shapes, the reference folder's Helm DaemonSet when present) is created through the webhook;
then git is applied again as ``kubectl apply`` does (a three-way merge with last-applied = git,
live = the mutated object, new = git: `tests.gitops.three_way`), the webhook mutates that
UPDATE, and the result must be the first mutation, field for field: the pod template does not
change, so the DaemonSet controller makes no new revision and replaces no pod. The same with
server-side apply (`tests.gitops.server_side_apply`: the applier owns what git holds, the
webhook's fields belong to no manager). The intermediate object is checked too: the re-apply
does take something away (the DaemonSet's ``args``, a list merged whole; the StorageCluster's
``spec.env`` and ``spec.volumes``, a custom resource's lists), so the webhook really puts it
back, rather than the test comparing an object with itself.

The first cases go through the real HTTPS server with AdmissionReviews as the kube-apiserver
sends them; the matrix of profiles runs through the same mutator in-process.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.gitops import field_set, server_side_apply, three_way
from tests.integration.manifests.corpus import GOLDEN, OBJECTS, REAL_WORLD, load
from tests.integration.webhook.conftest import StartServer
from tests.integration.webhook.helpers import admission_review, apply_response
from tests.unit.webhook.support import validate
from tests.unit.webhook.test_pods_only import CONFIGS, mutate
from webhook.core import constants as c
from webhook.core.mutation import build_mutator
from webhook.core.profiles import default_config
from webhook.server.configreload import LoadedConfig

Obj = dict[str, Any]

HELM_STORAGE_CLUSTER: Obj = {
    "apiVersion": "core.libopenstorage.org/v1",
    "kind": "StorageCluster",
    "metadata": {
        "name": "px-cluster",
        "namespace": "portworx",
        "labels": {"app.kubernetes.io/managed-by": "Helm"},
    },
    "spec": {
        "image": "portworx/oci-monitor:3.2.0",
        "kvdb": {"internal": True},
        "storage": {"useAll": True},
        "secretsProvider": "vault",
        "csi": {"enabled": True},
        "env": [{"name": "PX_RELEASE_MANIFEST_URL", "value": "https://example.com/version"}],
    },
}
"""Our fixture of the Portworx Helm chart's StorageCluster shape (secretType=vault)."""


def git_objects() -> Iterator[Any]:
    """The objects as git holds them."""
    for case in ("portworx-daemonset", "portworx-daemonset-ca-only", "storagecluster"):
        obj = json.loads((GOLDEN / case / "request.json").read_text())["request"]["object"]
        yield pytest.param(obj, id=f"golden-{case}")
    yield pytest.param(HELM_STORAGE_CLUSTER, id="fixture-helm-storagecluster")
    for path in sorted((OBJECTS / "storage").glob("*.yaml")):
        yield pytest.param(load(path), id=f"fixture-{path.stem}")
    if REAL_WORLD is not None:
        # p04 names no provider: it gets -secret_type vault. (p09, Helm's secretType=vault,
        # has nothing to add since Portworx reads px-vault itself: no mutation to re-apply.)
        yield pytest.param(load(REAL_WORLD / "p04-fmrtl73-portworx-ds.yaml"), id="real-p04")


def _strategic(obj: Obj) -> bool:
    return obj["kind"] != c.STORAGE_CLUSTER_KIND


def _reapplied(git: Obj, live: Obj) -> Obj:
    reapplied: Obj = three_way(git, git, live, strategic=_strategic(git))
    return reapplied


def _removed_by_the_reapply(git: Obj, live: Obj, reapplied: Obj) -> None:
    """The re-apply takes the webhook's atomic lists back to git's (the case worth testing)."""
    if git["kind"] == "DaemonSet":
        container = next(
            x
            for x in reapplied["spec"]["template"]["spec"]["containers"]
            if x["name"] == "portworx"
        )
        git_container = next(
            x for x in git["spec"]["template"]["spec"]["containers"] if x["name"] == "portworx"
        )
        assert container.get("args") == git_container.get("args")
    else:
        assert reapplied["spec"].get("env") == git["spec"].get("env")


@pytest.mark.parametrize("git", list(git_objects()))
async def test_a_reapply_through_the_https_webhook_changes_nothing(
    start_server: StartServer, git: Obj
) -> None:
    mutator = build_mutator(default_config())
    server = await start_server(mutator_source=lambda _: LoadedConfig(mutator=mutator))
    kind, meta = git["kind"], git["metadata"]
    where = {"kind": kind, "namespace": meta["namespace"], "name": meta["name"]}
    created = await server.client.review(admission_review(git, **where))
    live = apply_response(git, created["response"])
    assert live != git, "the webhook mutates the object git holds"
    reapplied = _reapplied(git, live)
    _removed_by_the_reapply(git, live, reapplied)
    updated = await server.client.review(
        admission_review(reapplied, operation="UPDATE", old_object=live, **where)
    )
    assert apply_response(reapplied, updated["response"]) == live
    if kind == "DaemonSet":
        validate(live)


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
@pytest.mark.parametrize("git", list(git_objects()))
def test_a_reapply_gives_the_first_mutation_again_client_and_server_side(
    git: Obj, config_name: str
) -> None:
    config = CONFIGS[config_name]
    first, live = mutate(config, git)
    assert first.outcome == "mutated", first
    reapplied = _reapplied(git, live)
    _removed_by_the_reapply(git, live, reapplied)
    _, after = mutate(config, reapplied, "UPDATE")
    assert after == live
    strategic = _strategic(git)
    owned = field_set(git, strategic=strategic)
    server_side = server_side_apply(git, live, owned, strategic=strategic)
    _, after_ssa = mutate(config, server_side, "UPDATE")
    assert after_ssa == live
    # And once settled, every later re-apply finds the object as the webhook leaves it.
    assert mutate(config, _reapplied(git, after), "UPDATE")[1] == live


@pytest.mark.parametrize("case", ["portworx-daemonset", "storagecluster"])
def test_the_reapply_does_take_the_webhooks_lists_away(case: str) -> None:
    """Not an object compared with itself: git's args (DaemonSet) and spec.env (StorageCluster)
    replace the mutated ones, and only the webhook's UPDATE puts them back."""
    git = json.loads((GOLDEN / case / "request.json").read_text())["request"]["object"]
    _, live = mutate(default_config(), git)
    assert _reapplied(git, live) != live


def test_the_merge_models_keep_what_only_the_live_object_has_and_drop_what_git_removed() -> None:
    """The two models on a case where they differ from a plain overwrite."""
    last = {"spec": {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}}
    new = {"spec": {"env": [{"name": "A", "value": "1"}]}}
    live = {"spec": {"env": [*last["spec"]["env"], {"name": "VAULT_ADDR", "value": "x"}]}}
    merged = three_way(last, new, live, strategic=True)
    assert merged == {
        "spec": {"env": [{"name": "A", "value": "1"}, {"name": "VAULT_ADDR", "value": "x"}]}
    }
    assert three_way(last, new, live, strategic=False) == new  # a custom resource: lists whole
    owned = field_set(last, strategic=True)
    assert server_side_apply(new, live, owned, strategic=True) == merged


def test_switching_to_pods_only_leaves_the_webhooks_entries_in_the_daemonset() -> None:
    """After the switch nothing mutates the DaemonSet: a re-apply of git takes back its args
    (a list the applier owns whole) but keeps the env and TLS volume the webhook added (nobody
    owns them), under either apply. Its pods are still fully wired at creation; the doctor
    names the entries left in the DaemonSet (``leftovers:``)."""
    from webhook.core.controllers import daemonset_pod

    git = json.loads((GOLDEN / "portworx-daemonset-ca-only" / "request.json").read_text())
    git = git["request"]["object"]
    config = CONFIGS["tls"]
    _, live = mutate(config, git)
    for reapplied in (
        three_way(git, git, live, strategic=True),
        server_side_apply(git, live, field_set(git, strategic=True), strategic=True),
    ):
        spec = reapplied["spec"]["template"]["spec"]
        names = {e["name"] for e in spec["containers"][0].get("env", [])}
        assert c.TLS_VOLUME_NAME in {v["name"] for v in spec["volumes"]}
        assert any(name.startswith("VAULT_") for name in names)
        assert c.SECRET_TYPE_FLAG not in spec["containers"][0].get("args", [])
        _, pod = mutate(config, daemonset_pod(copy.deepcopy(reapplied)))
        _, expected = mutate(config, daemonset_pod(git))
        assert pod["spec"]["containers"] == expected["spec"]["containers"]

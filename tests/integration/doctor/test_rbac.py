"""The doctor's RBAC component: read-only, by name, and enough for a whole run, --vault included.

The double enforces the rules of ``kubectl kustomize manifests/examples/doctor`` (the component
plus one storage namespace's Role, copied for the second namespace and given the names of the
install's profiles, as its comments say) as an allow-list, the way the API server's RBAC
authorizer would for the doctor's service account. The doctor reads no Secret but the serving
Secret (never the CA Secret, which holds the CA key) and the profiles' Secrets: Rook's OSD key
Secret, the seed, stays out of reach, and --vault then checks that OSD's connection alone and
says so.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.doctor.conftest import CONFIG_TEXT, PX_NS, ROOK_NS, SEED_SECRET, Install
from tests.integration.manifests.conftest import MANIFESTS, WEBHOOK_NAMESPACE, Obj, kustomize
from webhook.core.config import parse_config
from webhook.doctor import state

DOCTOR = "vault-storage-injector-doctor"
READ_VERBS = frozenset({"get", "list"})


@pytest.fixture(scope="module")
def example() -> list[Obj]:
    return kustomize(MANIFESTS / "examples/doctor")


def _bound(objects: list[Obj]) -> list[tuple[str | None, Obj]]:
    """(namespace or None for cluster-wide, rule) of every rule bound to the doctor's account."""
    roles = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
        for o in objects
        if o["kind"] in {"Role", "ClusterRole"}
    }
    found: list[tuple[str | None, Obj]] = []
    for binding in (o for o in objects if o["kind"] in {"RoleBinding", "ClusterRoleBinding"}):
        if {"kind": "ServiceAccount", "name": DOCTOR, "namespace": WEBHOOK_NAMESPACE} not in (
            binding["subjects"]
        ):
            continue
        ref = binding["roleRef"]
        where = binding["metadata"].get("namespace")
        role = roles[(ref["kind"], None if ref["kind"] == "ClusterRole" else where, ref["name"])]
        found += [(where, rule) for rule in role["rules"]]
    return found


def _authorizer(objects: list[Obj]) -> Callable[[str, str, str | None, str | None], bool]:
    rules = _bound(objects)

    def may(verb: str, resource: str, namespace: str | None, name: str | None) -> bool:
        return any(
            (where is None or where == namespace)
            and verb in rule["verbs"]
            and resource in rule["resources"]
            and (not rule.get("resourceNames") or name in rule["resourceNames"])
            for where, rule in rules
        )

    return may


def _with_the_installs_names(example: list[Obj]) -> list[Obj]:
    """The example with the Secret names of the healthy install's profiles in its storage
    namespace's Role (its comment says to list the profiles' names there)."""
    names = sorted(parse_config(CONFIG_TEXT, source="test").secret_names)
    found = copy.deepcopy(example)
    for obj in found:
        if obj["kind"] == "Role" and obj["metadata"]["namespace"] == ROOK_NS:
            for rule in obj["rules"]:
                if rule["resources"] == ["secrets"]:
                    rule["resourceNames"] = names
    return found


def _for_both_namespaces(example: list[Obj]) -> list[Obj]:
    """`_with_the_installs_names`, its storage-namespace Role and RoleBinding copied to
    Portworx's namespace."""
    found = []
    for obj in _with_the_installs_names(example):
        found.append(obj)
        if obj["kind"] in {"Role", "RoleBinding"} and obj["metadata"]["namespace"] == ROOK_NS:
            twin: dict[str, Any] = copy.deepcopy(obj)
            twin["metadata"]["namespace"] = PX_NS
            found.append(twin)
    return found


def test_the_doctor_may_only_read_but_for_token_requests_by_name(example: list[Obj]) -> None:
    rules = _bound(example)
    assert rules
    for where, rule in rules:
        if rule["resources"] == ["serviceaccounts/token"]:
            assert rule["verbs"] == ["create"]
            assert where == ROOK_NS
            assert rule["resourceNames"], "a TokenRequest rule must name its service accounts"
            continue
        assert set(rule["verbs"]) <= READ_VERBS, rule
        if "secrets" in rule["resources"]:
            assert where is not None, "no cluster-wide Secret reads"
            assert rule["verbs"] == ["get"], "Secrets are read one by one, never listed"
            if where == WEBHOOK_NAMESPACE:  # the serving Secret, never the CA Secret
                assert rule["resourceNames"] == [state.DEFAULT_TLS_SECRET]
            else:  # the Secrets of the example's profiles, by name
                (config_map,) = [o for o in example if o["kind"] == "ConfigMap"]
                names = parse_config(config_map["data"]["config.yaml"], source="x").secret_names
                assert set(rule["resourceNames"]) == names


def test_the_doctors_defaults_are_the_objects_of_manifests_base(example: list[Obj]) -> None:
    def names(kind: str) -> set[tuple[str | None, str]]:
        return {
            (o["metadata"].get("namespace"), o["metadata"]["name"])
            for o in example
            if o["kind"] == kind
        }

    ns = state.DEFAULT_NAMESPACE
    assert (None, state.DEFAULT_WEBHOOK_CONFIG) in names("MutatingWebhookConfiguration")
    assert (ns, state.DEFAULT_SERVICE) in names("Service")
    assert (ns, state.DEFAULT_CONFIG_MAP) in names("ConfigMap")
    assert (ns, state.ROTATE_CRONJOB) in names("CronJob")
    (config_map,) = [o for o in example if o["kind"] == "ConfigMap"]
    assert state.CONFIG_KEY in config_map["data"]
    (job,) = [o for o in example if o["kind"] == "Job"]
    assert (
        f"--secret={state.DEFAULT_TLS_SECRET}"
        in job["spec"]["template"]["spec"]["containers"][0]["args"]
    )


async def test_the_components_rules_are_enough_for_a_whole_run(
    healthy: Install, example: list[Obj]
) -> None:
    healthy.api.authorizer = _authorizer(_for_both_namespaces(example))
    before = len(healthy.api.requests)  # the bootstrap's reads of the install are not the doctor's

    result = await healthy.doctor("--vault")

    requests = healthy.api.requests[before:]
    assert result.failing() == []
    seed = healthy.osd_vault_prefix + "seed"
    assert result.warning() == [seed]  # Rook's key Secret is not the profiles'
    assert SEED_SECRET in result.detail(seed)
    assert f"get on secrets {SEED_SECRET} in {ROOK_NS}" in result.fix(seed)
    prefix = healthy.osd_vault_prefix
    osd = {n[len(prefix) :]: c["status"] for n, c in result.checks.items() if n.startswith(prefix)}
    # The connection is checked all the same; the key checks (key:, seed migration) are not.
    connection = {"tls-certificate", "tls-name", "tls-expiry", "tls-client", "auth", "kv-version"}
    assert osd == {**dict.fromkeys(connection, "ok"), "seed": "warn"}
    refused = {(r.verb, r.resource, r.name) for r in requests if r.status == 403}
    assert refused == {("get", "secrets", SEED_SECRET)}
    webhooks_own = {
        r.name for r in requests if r.resource == "secrets" and r.namespace == WEBHOOK_NAMESPACE
    }
    assert webhooks_own == {state.DEFAULT_TLS_SECRET}  # never the CA Secret, with the CA key


async def test_with_the_seed_granted_by_name_the_keys_are_checked_too(
    healthy: Install, example: list[Obj]
) -> None:
    rules = _for_both_namespaces(example)
    for obj in rules:
        if obj["kind"] == "Role" and obj["metadata"]["namespace"] == ROOK_NS:
            obj["rules"][0]["resourceNames"].append(SEED_SECRET)
    healthy.api.authorizer = _authorizer(rules)

    result = await healthy.doctor("--vault")

    assert result.failing() == []
    assert result.warning() == []
    assert not [r for r in healthy.api.requests if r.status == 403]


async def test_without_the_namespace_role_the_doctor_says_what_to_grant(
    healthy: Install, example: list[Obj]
) -> None:
    # rook-ceph granted, portworx not
    healthy.api.authorizer = _authorizer(_with_the_installs_names(example))

    result = await healthy.doctor("--vault")

    assert result.failing() == []
    name = f"secrets:{PX_NS}/portworx"
    assert result.status(name) == "warn"
    assert f"get on secrets in {PX_NS}" in result.fix(name)
    assert result.status(healthy.osd_vault_prefix + "auth") == "ok"

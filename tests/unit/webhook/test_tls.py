"""TLS files that follow what the Secrets hold: a container is only given paths that will exist."""

from __future__ import annotations

import json
from typing import Any

import jsonpatch
import pytest

from tests.unit.webhook.support import GOLDEN, StaticCluster, context_from_review, validate
from vsi_common import names
from webhook.core import constants as c
from webhook.core.compiled import compile_profile
from webhook.core.config import parse_config
from webhook.core.model import AdmissionContext
from webhook.core.mutation import build_mutator
from webhook.core.tls import PAIR, secret_source

CA = ["ca.crt"]
FULL = ["ca.crt", "tls.crt", "tls.key"]
PATHS = {
    names.VAULT_CACERT: f"{c.TLS_MOUNT_PATH}/ca.crt",
    names.VAULT_CLIENT_CERT: f"{c.TLS_MOUNT_PATH}/tls.crt",
    names.VAULT_CLIENT_KEY: f"{c.TLS_MOUNT_PATH}/tls.key",
}


def _config(tls_secret: str) -> Any:
    connection = f"{{secret: vault, tlsSecret: {tls_secret}}}"
    profiles = ", ".join(
        f"{{name: tls-{kind}, type: {kind}, connection: {connection}}}" for kind in c.PROFILE_TYPES
    )
    return parse_config(f"profiles: [{profiles}]", source="t")


MUTATOR = build_mutator(_config("vault-tls"))
DECLARED_FULL = build_mutator(_config(f"{{name: vault-tls, keys: {FULL}}}"))


def _case(name: str, cluster: StaticCluster | None) -> tuple[dict[str, Any], AdmissionContext]:
    review = json.loads((GOLDEN / name / "request.json").read_text())
    return review["request"]["object"], context_from_review(review, cluster)


def _cluster(namespace: str, **secrets: list[str]) -> StaticCluster:
    return StaticCluster(
        namespaces={namespace: {c.LABEL_ENABLED: "true"}},
        secrets={f"{namespace}/{name}": keys for name, keys in secrets.items()},
    )


def _portworx(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]["template"]["spec"] if obj["kind"] == "DaemonSet" else obj["spec"]
    found: dict[str, Any] = next(ct for ct in spec["containers"] if ct["name"] == "portworx")
    return found


def _tls_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if e["name"] in PATHS}


def _items(obj: dict[str, Any]) -> list[str]:
    spec = obj["spec"]["template"]["spec"] if obj["kind"] == "DaemonSet" else obj["spec"]
    volume = next(v for v in spec["volumes"] if v["name"] == c.TLS_VOLUME_NAME)
    return [i["path"] for s in volume["projected"]["sources"] for i in s["secret"]["items"]]


def _mutate(obj: dict[str, Any], ctx: AdmissionContext, mutator: Any = MUTATOR) -> dict[str, Any]:
    result = mutator(obj, ctx)
    assert result.outcome == "mutated", result
    out: dict[str, Any] = jsonpatch.apply_patch(obj, list(result.ops))
    if obj["kind"] != c.STORAGE_CLUSTER_KIND:  # a CRD: no schema to validate against
        validate(out)
    return out


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (CA, [names.VAULT_CACERT]),
        (FULL, [names.VAULT_CACERT, names.VAULT_CLIENT_CERT, names.VAULT_CLIENT_KEY]),
        (["tls.crt", "tls.key"], [names.VAULT_CLIENT_CERT, names.VAULT_CLIENT_KEY]),
        (["ca.crt", "tls.crt"], [names.VAULT_CACERT]),  # half a pair is never used
    ],
)
def test_portworx_gets_the_paths_of_exactly_the_files_the_secret_holds(
    keys: list[str], expected: list[str]
) -> None:
    obj, ctx = _case("portworx-daemonset", _cluster("kube-system", **{"px-vault": ["VAULT_ADDR"]}))
    ctx = _with_secret(ctx, "kube-system", "vault-tls", keys)

    out = _mutate(obj, ctx)

    assert _tls_env(_portworx(out)) == {name: PATHS[name] for name in expected}
    assert names.VAULT_CAPATH not in {e["name"] for e in _portworx(out)["env"]}
    assert _items(out) == [PATHS[name].rsplit("/", 1)[1] for name in expected]


def _with_secret(ctx: AdmissionContext, namespace: str, name: str, keys: list[str]) -> Any:
    assert isinstance(ctx.cluster, StaticCluster)
    ctx.cluster.secrets[f"{namespace}/{name}"] = keys
    return ctx


@pytest.mark.parametrize(
    ("cluster", "mutator", "expected"),
    [
        (None, MUTATOR, CA),  # no cache: the declaration, the CA alone by default
        (None, DECLARED_FULL, FULL),
        (StaticCluster(watched=False), DECLARED_FULL, FULL),  # not watched: the declaration
        (_cluster("kube-system"), MUTATOR, CA),  # not created yet: the declaration
        (_cluster("kube-system", **{"vault-tls": CA}), DECLARED_FULL, CA),  # the cache wins
    ],
    ids=["no-cache", "declared-pair", "not-watched", "not-found", "cache-over-declaration"],
)
def test_without_the_cache_the_profile_declaration_decides_never_all_three(
    cluster: StaticCluster | None, mutator: Any, expected: list[str]
) -> None:
    obj, ctx = _case("portworx-daemonset", cluster)
    assert _items(_mutate(obj, ctx, mutator)) == expected


def test_the_injector_gets_the_directory_and_no_tls_paths_even_from_a_px_vault_secret() -> None:
    obj, ctx = _case("volume-keys-pod", _cluster("databases", **{"vault-tls": FULL}))
    out = _mutate(obj, ctx)
    injector = out["spec"]["initContainers"][0]
    env = {e["name"]: e for e in injector["env"]}
    assert env[names.VSI_TLS_DIR] == {"name": names.VSI_TLS_DIR, "value": c.TLS_MOUNT_PATH}
    # Not from the px-vault Secret either, nor its VAULT_CAPATH (a second CA source).
    assert not {*PATHS, names.VAULT_CAPATH} & env.keys()
    assert {"name": c.TLS_VOLUME_NAME, "mountPath": c.TLS_MOUNT_PATH, "readOnly": True} in (
        injector["volumeMounts"]
    )
    assert _items(out) == FULL


def test_a_secret_holding_no_tls_file_mounts_nothing_and_sets_nothing() -> None:
    obj, ctx = _case("volume-keys-pod", _cluster("databases", **{"vault-tls": ["other"]}))
    out = _mutate(obj, ctx)
    injector = out["spec"]["initContainers"][0]
    assert names.VSI_TLS_DIR not in {e["name"] for e in injector["env"]}
    assert c.TLS_VOLUME_NAME not in {v["name"] for v in out["spec"]["volumes"]}


@pytest.mark.parametrize(("first", "then"), [(CA, FULL), (FULL, CA)])
def test_a_daemonset_updated_after_its_secret_changed_follows_the_new_files(
    first: list[str], then: list[str]
) -> None:
    obj, ctx = _case("portworx-daemonset", _cluster("kube-system", **{"vault-tls": first}))
    before = _mutate(obj, ctx)
    _, ctx2 = _case("portworx-daemonset", _cluster("kube-system", **{"vault-tls": then}))
    update = AdmissionContext(**{**ctx2.__dict__, "operation": "UPDATE"})

    after = _mutate(before, update)

    assert _items(after) == then
    expected = {PATHS[s] for s in PATHS if PATHS[s].rsplit("/", 1)[1] in then}
    assert set(_tls_env(_portworx(after)).values()) == expected
    other_env = [e for e in _portworx(after)["env"] if e["name"] not in PATHS]
    assert other_env == [e for e in _portworx(before)["env"] if e["name"] not in PATHS]
    assert list(MUTATOR(after, update).ops) == []


def test_an_env_entry_set_by_hand_is_never_changed_by_the_shape() -> None:
    obj, ctx = _case("portworx-daemonset", _cluster("kube-system", **{"vault-tls": CA}))
    own = {"name": names.VAULT_CLIENT_CERT, "value": "/etc/pwx/client.crt"}
    _portworx(obj)["env"].append(own)
    out = _mutate(obj, ctx)
    env = _portworx(out)["env"]
    assert own in env
    assert [e["name"] for e in env].count(names.VAULT_CLIENT_CERT) == 1
    assert _tls_env(_portworx(out))[names.VAULT_CACERT] == PATHS[names.VAULT_CACERT]


def test_a_storagecluster_follows_its_secret_through_an_update() -> None:
    cluster = _cluster("portworx", **{"vault-tls": CA})
    obj, ctx = _case("storagecluster", cluster)
    first = _mutate(obj, ctx)
    cluster.secrets["portworx/vault-tls"] = FULL
    update = AdmissionContext(**{**ctx.__dict__, "operation": "UPDATE"})

    second = _mutate(first, update)

    (volume,) = [v for v in second["spec"]["volumes"] if v["name"] == c.TLS_VOLUME_NAME]
    assert volume["mountPath"] == c.TLS_MOUNT_PATH
    assert [i["path"] for i in volume["projected"]["sources"][0]["secret"]["items"]] == FULL
    env = {e["name"]: e.get("value") for e in second["spec"]["env"]}
    assert {k: env[k] for k in PATHS} == PATHS
    assert list(MUTATOR(second, update).ops) == []


def test_fragments_are_built_once_per_shape_and_only_looked_up_per_request() -> None:
    config = _config(f"{{name: vault-tls, keys: {FULL}}}")
    compiled = compile_profile(config.profiles[0])
    assert len(compiled.by_shape) == 4
    cluster = _cluster("ns", **{"vault-tls": CA})
    first = compiled.fragments("ns", cluster)
    assert first is compiled.fragments("ns", cluster)
    assert first is compiled.by_shape[frozenset({names.VAULT_CACERT})]
    assert compiled.fragments("other", cluster).shape == frozenset({names.VAULT_CACERT}) | PAIR


def test_a_secret_source_declares_the_ca_alone_by_default() -> None:
    source = secret_source("vault-tls")
    assert source.declared == frozenset({names.VAULT_CACERT})
    assert [(f.key, f.path) for f in source.files] == [(k, k) for k in FULL]

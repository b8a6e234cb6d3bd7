"""Property tests over generated Pods and DaemonSets: the patch applies, the result is schema-valid,
a second pass is empty, and nothing changes outside the fields the webhook owns; both with the
built-in profiles and with profiles that have ``values``, a token Secret and a ``tlsSecret`` (whose
files are the CA alone or the CA and the client pair). Last,
arbitrary JSON under ``metadata`` / ``spec``: the mutator never raises and its patch applies."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import jsonpatch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.webhook.support import GOLDEN, StaticCluster, validate
from vsi_common import names
from webhook.core import constants as c
from webhook.core.config import load_config, parse_config
from webhook.core.model import AdmissionContext, Mutator
from webhook.core.mutation import build_mutator

MUTATOR = build_mutator(load_config(None))
TLS_SECRET = "vault-tls"
ROOK_SECRET = "rook-ceph-osd-encryption-key-x"
TLS_CONFIG = parse_config(
    "profiles:\n"
    + "".join(
        f"""
  - name: tls-{kind}
    type: {kind}
    connection:
      values: {{VAULT_ADDR: "https://vault:8200", VAULT_BACKEND_PATH: keys}}
      tokenSecret: vault-token
      tlsSecret: {TLS_SECRET}
"""
        for kind in c.PROFILE_TYPES
    ),
    source="tls.yaml",
)
"""Every profile type with ``values`` + ``tokenSecret`` + ``tlsSecret`` (ahead of the built-ins)."""
TLS_MUTATOR = build_mutator(TLS_CONFIG)
MUTATORS = (MUTATOR, TLS_MUTATOR)
NAME = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
ENV_NAMES = [
    "FOO",
    "PX_TEMPLATE_VERSION",
    names.VAULT_ADDR,
    names.VAULT_TOKEN,
    names.VAULT_BACKEND_PATH,
]
ARGS = ["-c", "px-cluster", "-x", "kubernetes", "-b", "-secret_type", "vault", "k8s"]
OURS = (
    c.INJECTOR_CONTAINER_NAME,
    c.KEY_VOLUME_NAME,
    c.TLS_VOLUME_NAME,
    c.SEED_VOLUME_NAME,
    c.VAULT_TOKEN_VOLUME_NAME,
)
PROPS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


VALUE_FROM = [
    {"secretKeyRef": {"name": "px-vault", "key": "VAULT_ADDR"}},
    {"secretKeyRef": {"name": "other", "key": "token", "optional": True}},
    {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}},
    {"configMapKeyRef": {"name": "settings", "key": "addr"}},
]
MOUNT_PATHS = [c.TLS_MOUNT_PATH, c.DEFAULT_KEY_MOUNT_PATH]
"""Paths of ours a container may already use for another volume (a conflict)."""


def _tls_projection(keys: list[str]) -> dict[str, Any]:
    items = [{"key": k, "path": k} for k in keys]
    return {"defaultMode": 0o444, "sources": [{"secret": {"name": TLS_SECRET, "items": items}}]}


EXISTING_VOLUMES: dict[str, list[dict[str, Any]]] = {
    c.KEY_VOLUME_NAME: [
        {"emptyDir": {"medium": "Memory", "sizeLimit": "2Mi"}},
        {"emptyDir": {}},
        {"persistentVolumeClaim": {"claimName": "disk"}},
    ],
    c.TLS_VOLUME_NAME: [
        {"projected": _tls_projection(["ca.crt"])},  # ours, the shape the webhook gives
        {"projected": _tls_projection(["ca.crt", "tls.crt", "tls.key"])},  # ours, another shape
        {"secret": {"secretName": TLS_SECRET, "defaultMode": 0o444}},  # not a projection: foreign
        {"secret": {"secretName": "someone-elses"}},
    ],
    c.SEED_VOLUME_NAME: [
        {"secret": {"secretName": ROOK_SECRET}},
        {"secret": {"secretName": "rook-ceph-osd-encryption-key-other"}},
    ],
    c.VAULT_TOKEN_VOLUME_NAME: [
        {"projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},  # foreign
        {"emptyDir": {}},
    ],
}
"""Volumes named like ours that a pod may already have: our source, or a foreign one."""


def _env() -> st.SearchStrategy[list[dict[str, Any]]]:
    entry = st.one_of(
        st.builds(
            lambda n, v: {"name": n, "value": v},
            st.sampled_from(ENV_NAMES),
            st.text("abc:/.", max_size=8),
        ),
        st.builds(
            lambda n, v: {"name": n, "valueFrom": v},
            st.sampled_from(ENV_NAMES),
            st.sampled_from(VALUE_FROM),
        ),
    )
    return st.lists(entry, max_size=4, unique_by=lambda e: e["name"])


@st.composite
def containers(draw: st.DrawFn, names_: list[str], volumes: list[str]) -> list[dict[str, Any]]:
    out = []
    for name in names_:
        container: dict[str, Any] = {"name": name, "image": "registry.local/app:1.0"}
        if draw(st.booleans()):
            container["env"] = draw(_env())
        if draw(st.booleans()):
            container["args"] = draw(st.lists(st.sampled_from(ARGS), max_size=6))
        with_mounts = draw(st.booleans())
        if volumes and with_mounts:
            picked: list[str] = draw(st.lists(st.sampled_from(volumes), max_size=2, unique=True))
            container["volumeMounts"] = [{"name": v, "mountPath": f"/mnt/{v}"} for v in picked]
            if picked and draw(st.integers(0, 5)) == 0:
                container["volumeMounts"][0]["mountPath"] = draw(st.sampled_from(MOUNT_PATHS))
        if draw(st.booleans()):
            container["securityContext"] = {"runAsUser": draw(st.integers(0, 3000))}
        out.append(container)
    return out


@st.composite
def pod_specs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    volumes: list[dict[str, Any]] = [{"name": "scratch", "emptyDir": {}}]
    flavour = draw(st.sampled_from(["portworx", "rook", "volume-keys", "plain"]))
    if flavour == "rook":
        osd_pvc = draw(NAME)
        labels = {c.ROOK_APP_LABEL: c.ROOK_OSD_APP, c.ROOK_PVC_LABEL: osd_pvc}
        if draw(st.integers(0, 4)) > 0:  # else a look-alike whose label names no PVC of its own
            volumes.append({"name": "osd-data", "persistentVolumeClaim": {"claimName": osd_pvc}})
        key_source: dict[str, Any] = draw(
            st.sampled_from(
                [
                    {
                        "secret": {
                            "secretName": ROOK_SECRET,
                            "items": [{"key": "dmcrypt-key", "path": "luks_key"}],
                            "defaultMode": 256,
                        }
                    },
                    {"emptyDir": {"medium": "Memory"}},
                    {"emptyDir": {}},
                ]
            )
        )
        volumes.append({"name": c.ROOK_KEY_VOLUME, **key_source})
    if flavour == "volume-keys" or draw(st.booleans()):
        for claim in draw(st.lists(NAME, min_size=1, max_size=3, unique=True)):
            volumes.append({"name": f"pvc-{claim}", "persistentVolumeClaim": {"claimName": claim}})
        if flavour == "volume-keys":
            annotations[c.ANNOTATION_INJECT] = "true"
    for name, sources in EXISTING_VOLUMES.items():
        if draw(st.integers(0, 3)) == 0:
            volumes.append({"name": name, **draw(st.sampled_from(sources))})
    volume_names = [v["name"] for v in volumes]
    main = draw(st.lists(NAME, min_size=1, max_size=3, unique=True))
    if flavour == "portworx":
        main = [c.PORTWORX_CONTAINER, *[n for n in main if n != c.PORTWORX_CONTAINER]]
    spec: dict[str, Any] = {"containers": draw(containers(main, volume_names)), "volumes": volumes}
    init_names = draw(st.lists(NAME.map(lambda n: "i" + n), max_size=3, unique=True))
    if flavour == "rook":
        init_names = [*init_names, "encryption-open", "activate"]
    if init_names:
        spec["initContainers"] = draw(containers(init_names, volume_names))
        for ic in spec["initContainers"]:
            if ic["name"] == "encryption-open":
                ic["volumeMounts"] = [
                    {"name": c.ROOK_KEY_VOLUME, "mountPath": "/etc/ceph", "readOnly": True}
                ]
    if draw(st.booleans()):
        spec["securityContext"] = draw(
            st.fixed_dictionaries(
                {}, optional={"runAsUser": st.integers(0, 3000), "fsGroup": st.integers(1, 3000)}
            )
        )
    return spec, labels, annotations


def _pod(
    spec: dict[str, Any], labels: dict[str, str], annotations: dict[str, str]
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "namespace": "ns"}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def _daemonset(
    spec: dict[str, Any], labels: dict[str, str], annotations: dict[str, str]
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "portworx", "namespace": "ns"}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": {"name": "portworx"}},
            "template": {"metadata": {"labels": {"name": "portworx"}}, "spec": spec},
        },
    }


POD_CTX = AdmissionContext("CREATE", "ns", "", "v1", "Pod")
DS_CTX = AdmissionContext("UPDATE", "ns", "apps", "v1", "DaemonSet")
FULL_TLS = StaticCluster(
    namespaces={"ns": {c.LABEL_ENABLED: "true"}},
    secrets={"ns/vault-tls": ["ca.crt", "tls.crt", "tls.key"], "ns/vault-token": ["token"]},
)
"""A Secret cache in which the TLS Secret holds the CA and the client pair."""
CLUSTERS = st.sampled_from([None, FULL_TLS])
"""No cache (the profile's declaration: the CA only), or one that knows the whole pair."""


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]
    return spec["template"]["spec"] if obj["kind"] == "DaemonSet" else spec


def _trim(original: dict[str, Any], mutated: dict[str, Any], field: str, check: Any) -> None:
    """Drop what the webhook appended to ``mutated[field]`` after checking each item is ours."""
    before = original.get(field)
    after = mutated.get(field)
    if after is None:
        return
    kept = len(before) if isinstance(before, list) else 0
    assert after[:kept] == (before or [])
    for item in after[kept:]:
        assert check(item), (field, item)
    if before is None:
        del mutated[field]
    else:
        mutated[field] = after[:kept]


def _assert_only_owned_fields_changed(original: dict[str, Any], mutated: dict[str, Any]) -> None:
    out = copy.deepcopy(mutated)
    annotations = out["metadata"].get("annotations", {})
    annotations.pop(c.ANNOTATION_STATUS, None)
    if not annotations and "annotations" not in original["metadata"]:
        out["metadata"].pop("annotations", None)
    spec, orig_spec = _pod_spec(out), _pod_spec(original)
    if "initContainers" in spec:
        spec["initContainers"] = [
            i for i in spec["initContainers"] if i["name"] != c.INJECTOR_CONTAINER_NAME
        ]
        if not spec["initContainers"] and "initContainers" not in orig_spec:
            del spec["initContainers"]
    spec["volumes"] = [  # volumes of ours the webhook may replace in place
        orig_spec["volumes"][i]
        if i < len(orig_spec["volumes"]) and v["name"] in (c.ROOK_KEY_VOLUME, c.TLS_VOLUME_NAME)
        else v
        for i, v in enumerate(spec["volumes"])
    ]
    _trim(orig_spec, spec, "volumes", lambda v: v["name"] in OURS)
    for before, after in zip(orig_spec["containers"], spec["containers"], strict=True):
        is_px = after["name"] == c.PORTWORX_CONTAINER
        _trim(before, after, "env", lambda e, px=is_px: px and e["name"] in names.ALL_SETTINGS)
        _trim(
            before,
            after,
            "args",
            lambda a, px=is_px: px and a in (c.SECRET_TYPE_FLAG, c.SECRET_TYPE_VAULT),
        )
        _trim(before, after, "volumeMounts", lambda m: m["name"] in OURS)
    assert out == original


def _assert_mounts_are_unique_and_never_foreign(
    original: dict[str, Any], mutated: dict[str, Any]
) -> None:
    """Mount paths stay unique per container, and every volume of ours the webhook mounts has
    the source it would have created (in-memory keys, the profile's TLS Secret, Rook's Secret)."""
    spec = _pod_spec(mutated)
    orig_spec = _pod_spec(original)
    before = {
        ct["name"]: ct.get("volumeMounts", [])
        for ct in orig_spec.get("initContainers", []) + orig_spec["containers"]
    }
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    pvcs = {
        v["persistentVolumeClaim"]["claimName"]
        for v in volumes.values()
        if "persistentVolumeClaim" in v
    }
    expected = {
        c.KEY_VOLUME_NAME: ("emptyDir", {"medium": "Memory"}),
        c.ROOK_KEY_VOLUME: ("emptyDir", {"medium": "Memory"}),
        c.TLS_VOLUME_NAME: ("projected", {}),
        c.SEED_VOLUME_NAME: ("secret", {"secretName": ROOK_SECRET}),
        c.VAULT_TOKEN_VOLUME_NAME: ("projected", {}),
    }
    for ct in spec.get("initContainers", []) + spec["containers"]:
        mounts = ct.get("volumeMounts", [])
        paths = [m["mountPath"].rstrip("/") for m in mounts]
        assert len(paths) == len(set(paths)), (ct["name"], paths)
        for mount in mounts:
            if mount in before.get(ct["name"], []) or mount["name"] not in expected:
                continue
            source, fields = expected[mount["name"]]
            volume = volumes[mount["name"]]
            assert set(volume) == {"name", source}, volume
            assert fields.items() <= volume[source].items(), volume
            if mount["name"] == c.VAULT_TOKEN_VOLUME_NAME:
                assert ct["name"] == c.INJECTOR_CONTAINER_NAME, ct["name"]
                token = volume[source]["sources"][0]["serviceAccountToken"]
                assert token["audience"] == c.DEFAULT_TOKEN_AUDIENCE, volume
            elif source == "projected":
                assert {s["secret"]["name"] for s in volume[source]["sources"]} == {TLS_SECRET}
        if ct["name"] == c.INJECTOR_CONTAINER_NAME and ct not in orig_spec.get(
            "initContainers", []
        ):
            env = {e["name"]: e.get("value") for e in ct["env"]}
            assert set(env[names.VSI_VOLUMES].split(",")) <= pvcs


def _check(obj: dict[str, Any], ctx: AdmissionContext, mutator: Mutator = MUTATOR) -> None:
    result = mutator(obj, ctx)
    mutated = jsonpatch.apply_patch(obj, list(result.ops))
    validate(mutated)
    _assert_only_owned_fields_changed(obj, mutated)
    _assert_mounts_are_unique_and_never_foreign(obj, mutated)
    if result.outcome == "skipped" and result.reason == c.SKIP_CONFLICT:
        # One line says why; a refused provider switch adds what to do next.
        assert result.warnings
        assert len(result.warnings) == 1 or "Vault settings not added" in result.warnings[0]
    again = mutator(mutated, ctx)
    assert list(again.ops) == []
    if result.outcome == "mutated":
        assert again.reason == c.SKIP_ALREADY_INJECTED
        assert mutated["metadata"]["annotations"][c.ANNOTATION_STATUS] == c.STATUS_INJECTED
    # the diff oracle: the direct ops describe exactly the change a diff would find
    assert jsonpatch.apply_patch(obj, jsonpatch.make_patch(obj, mutated)) == mutated


@PROPS
@given(pod_specs(), st.sampled_from(MUTATORS), CLUSTERS)
def test_generated_pods_patch_applies_validates_and_second_pass_is_empty(
    drawn: tuple[dict[str, Any], dict[str, str], dict[str, str]],
    mutator: Mutator,
    cluster: StaticCluster | None,
) -> None:
    _check(_pod(*drawn), dataclasses.replace(POD_CTX, cluster=cluster), mutator)


@PROPS
@given(pod_specs(), st.sampled_from(MUTATORS), CLUSTERS)
def test_generated_daemonsets_patch_applies_validates_and_second_pass_is_empty(
    drawn: tuple[dict[str, Any], dict[str, str], dict[str, str]],
    mutator: Mutator,
    cluster: StaticCluster | None,
) -> None:
    _check(_daemonset(*drawn), dataclasses.replace(DS_CTX, cluster=cluster), mutator)


# --- arbitrary JSON: the mutator never raises and its ops always apply ---------------------------

FUZZ_KEYS = [
    "name", "containers", "initContainers", "volumes", "volumeMounts", "env", "args", "value",
    "valueFrom", "mountPath", "persistentVolumeClaim", "claimName", "secret", "secretName",
    "items", "key", "path", "emptyDir", "medium", "securityContext", "runAsUser", "runAsGroup",
    "fsGroup", "template", "spec", "metadata", "labels", "annotations", "secretsProvider",
    c.ANNOTATION_INJECT, c.ANNOTATION_PROFILE, c.ANNOTATION_STATUS, c.ROOK_APP_LABEL,
    c.ROOK_PVC_LABEL, "volumeDevices", "devicePath", "command",
]  # fmt: skip
FUZZ_VALUES = [
    c.PORTWORX_CONTAINER, c.ROOK_KEY_VOLUME, c.KEY_VOLUME_NAME, c.TLS_VOLUME_NAME,
    c.SEED_VOLUME_NAME, c.INJECTOR_CONTAINER_NAME, c.ROOK_OSD_APP, c.ROOK_KMS_INIT_CONTAINER,
    c.TLS_MOUNT_PATH, c.DEFAULT_KEY_MOUNT_PATH, c.SECRET_TYPE_FLAG, c.SECRET_TYPE_VAULT,
    "-secret_type=k8s", "true", "false", "Memory", "pvc", "data", names.VAULT_ADDR,
    "tls-volume-keys", "tls-rook-osd", "portworx-operator", "luks_key", "dmcrypt-key",
    c.ROOK_OPEN_CONTAINER, c.CRYPTSETUP_LOCK_VOLUME, c.ROOK_OPERATOR_APP, c.ROOK_PREPARE_APP,
    "key-management", "get", "/etc/ceph/luks_key", "set1-data-1-7rxkq", "tls-rook-kms",
]  # fmt: skip
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.sampled_from(FUZZ_VALUES),
)
JSON = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(FUZZ_KEYS) | st.text(max_size=3), inner, max_size=4),
    ),
    max_leaves=25,
)
FUZZ_CASES = {
    "Pod": (
        "portworx-pod",
        "rook-osd-secret-seed",
        "rook-osd-values-tls",
        "volume-keys-pod",
        "rook-kms-osd",
        "rook-kms-prepare",
        "rook-kms-operator",
        "rook-kms-key-rotation",
    ),
    "DaemonSet": ("portworx-daemonset",),
    "StorageCluster": ("storagecluster",),
}
FUZZ_CONTEXTS = {
    "Pod": AdmissionContext("CREATE", "ns", "", "v1", "Pod"),
    "DaemonSet": AdmissionContext("CREATE", "ns", "apps", "v1", "DaemonSet"),
    "StorageCluster": AdmissionContext(
        "CREATE", "ns", c.STORAGE_CLUSTER_GROUP, "v1", c.STORAGE_CLUSTER_KIND
    ),
}


def _seeds() -> dict[str, list[dict[str, Any]]]:
    """Per kind: the golden request objects and what each mutator makes of them."""
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, cases in FUZZ_CASES.items():
        for case in cases:
            obj = json.loads((GOLDEN / case / "request.json").read_text())["request"]["object"]
            out.setdefault(kind, []).append(obj)
            for mutator in MUTATORS:
                result = mutator(obj, FUZZ_CONTEXTS[kind])
                out[kind].append(jsonpatch.apply_patch(obj, list(result.ops)))
    return out


SEEDS = _seeds()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


@st.composite
def corrupted_objects(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A real object (or our own output) with a few subtrees replaced by arbitrary JSON, or one
    whose ``metadata`` and ``spec`` are arbitrary JSON altogether."""
    kind = draw(st.sampled_from(sorted(FUZZ_CASES)))
    obj = copy.deepcopy(draw(st.sampled_from(SEEDS[kind])))
    if draw(st.integers(0, 4)) == 0:
        obj["metadata"] = draw(JSON)
        obj["spec"] = draw(JSON)
        return kind, obj
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(obj) if len(p) >= 2]
        path = draw(st.sampled_from(paths))
        parent = obj
        for segment in path[:-1]:
            parent = parent[segment]
        if draw(st.booleans()):
            parent[path[-1]] = draw(JSON)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.insert(path[-1], draw(JSON))
    return kind, obj


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(corrupted_objects(), st.sampled_from(MUTATORS))
def test_arbitrary_json_never_raises_and_the_patch_always_applies(
    drawn: tuple[str, dict[str, Any]], mutator: Mutator
) -> None:
    """Mutating admission runs before schema validation: whatever JSON arrives, the mutator
    returns (it never raises), leaves its input alone, emits ops that apply, and is idempotent."""
    kind, obj = drawn
    before = copy.deepcopy(obj)
    ctx = FUZZ_CONTEXTS[kind]
    result = mutator(obj, ctx)
    assert obj == before
    mutated = jsonpatch.apply_patch(obj, list(result.ops))
    again = mutator(mutated, ctx)
    jsonpatch.apply_patch(mutated, list(again.ops))
    assert list(again.ops) == []

"""Property tests over generated Pods and DaemonSets: the patch applies, the result is schema-valid,
a second pass is empty, and nothing changes outside the fields the webhook owns."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from injector import names
from tests.unit.webhook.support import validate
from webhook import constants as c
from webhook.model import AdmissionContext
from webhook.mutation import build_mutator
from webhook.profiles import load_config

MUTATOR = build_mutator(load_config(None))
NAME = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
ENV_NAMES = [
    "FOO",
    "PX_TEMPLATE_VERSION",
    names.VAULT_ADDR,
    names.VAULT_TOKEN,
    names.VAULT_BACKEND_PATH,
]
ARGS = ["-c", "px-cluster", "-x", "kubernetes", "-b", "-secret_type", "vault", "k8s"]
OURS = (c.INJECTOR_CONTAINER_NAME, c.KEY_VOLUME_NAME, c.TLS_VOLUME_NAME, c.SEED_VOLUME_NAME)
PROPS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _env() -> st.SearchStrategy[list[dict[str, Any]]]:
    entry = st.builds(
        lambda n, v: {"name": n, "value": v},
        st.sampled_from(ENV_NAMES),
        st.text("abc:/.", max_size=8),
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
        labels = {c.ROOK_APP_LABEL: c.ROOK_OSD_APP, c.ROOK_PVC_LABEL: draw(NAME)}
        key_source: dict[str, Any] = draw(
            st.sampled_from(
                [
                    {
                        "secret": {
                            "secretName": "rook-ceph-osd-encryption-key-x",
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
    spec["volumes"] = [
        orig_spec["volumes"][i]
        if i < len(orig_spec["volumes"]) and v["name"] == c.ROOK_KEY_VOLUME
        else v
        for i, v in enumerate(spec["volumes"])
    ]
    _trim(orig_spec, spec, "volumes", lambda v: v["name"] in OURS)
    for before, after in zip(orig_spec["containers"], spec["containers"], strict=True):
        is_px = after["name"] == c.PORTWORX_CONTAINER
        _trim(before, after, "env", lambda e, px=is_px: px and e["name"] in names.VAULT_SETTINGS)
        _trim(
            before,
            after,
            "args",
            lambda a, px=is_px: px and a in (c.SECRET_TYPE_FLAG, c.SECRET_TYPE_VAULT),
        )
        _trim(before, after, "volumeMounts", lambda m: m["name"] in OURS)
    assert out == original


def _check(obj: dict[str, Any], ctx: AdmissionContext) -> None:
    result = MUTATOR(obj, ctx)
    mutated = jsonpatch.apply_patch(obj, list(result.ops))
    validate(mutated)
    _assert_only_owned_fields_changed(obj, mutated)
    again = MUTATOR(mutated, ctx)
    assert list(again.ops) == []
    if result.outcome == "mutated":
        assert again.reason == c.SKIP_ALREADY_INJECTED
        assert mutated["metadata"]["annotations"][c.ANNOTATION_STATUS] == c.STATUS_INJECTED
    # the diff oracle: the direct ops describe exactly the change a diff would find
    assert jsonpatch.apply_patch(obj, jsonpatch.make_patch(obj, mutated)) == mutated


@PROPS
@given(pod_specs())
def test_generated_pods_patch_applies_validates_and_second_pass_is_empty(
    drawn: tuple[dict[str, Any], dict[str, str], dict[str, str]],
) -> None:
    _check(_pod(*drawn), POD_CTX)


@PROPS
@given(pod_specs())
def test_generated_daemonsets_patch_applies_validates_and_second_pass_is_empty(
    drawn: tuple[dict[str, Any], dict[str, str], dict[str, str]],
) -> None:
    _check(_daemonset(*drawn), DS_CTX)

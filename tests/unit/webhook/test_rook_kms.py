"""rook-kms: Rook's four KMS-mode pod shapes, the shapes it leaves alone, and how it and rook-osd
split the OSD pods between them.

Each variant starts from a golden fixture built from Rook's own templates (``pod.yaml``) and
changes the one thing a Rook version or a configuration could change; every mutated result is
schema-validated and a second pass over it must plan nothing.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import pytest
import yaml

from tests.unit.webhook.support import GOLDEN, StaticCluster, context_from_review, validate
from vsi_common import names
from webhook.core import constants as c
from webhook.core.config import load_config, parse_config
from webhook.core.model import AdmissionContext, MutationResult, Mutator
from webhook.core.mutation import build_mutator
from webhook.core.rules import rook_kms, rook_osd
from webhook.core.rules.base import subject_of
from webhook.errors import ConfigError

KMS_CONFIG = load_config(GOLDEN / "rook-kms-osd" / "config.yaml")
KMS = build_mutator(KMS_CONFIG)
BUILTIN = build_mutator(load_config(None))
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "request.json").exists())
UNCHANGED = "object left unchanged"
ROOK_PODS = [
    ("rook-kms-operator", "rook-ceph-operator"),
    ("rook-kms-prepare", c.ROOK_PROVISION_CONTAINER),
    ("rook-kms-key-rotation", "rook-ceph-osd-key-rotation"),
]
"""Rook's own KMS-mode pods (golden case) and the container of each that gets the connection."""


def _case(name: str) -> tuple[dict[str, Any], AdmissionContext]:
    review = json.loads((GOLDEN / name / "request.json").read_text())
    return copy.deepcopy(review["request"]["object"]), context_from_review(review, None)


def _mutate(
    mutator: Mutator, obj: dict[str, Any], ctx: AdmissionContext
) -> tuple[MutationResult, dict[str, Any]]:
    """The result and the mutated object, schema-checked, after a second pass that plans nothing."""
    result = mutator(obj, ctx)
    out: dict[str, Any] = jsonpatch.apply_patch(obj, list(result.ops))
    validate(out)
    assert list(mutator(out, ctx).ops) == []
    return result, out


def _init(pod: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in pod["spec"]["initContainers"] if i["name"] == name)
    return found


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def _skipped(result: MutationResult, reason: str, warning: str) -> None:
    assert (result.outcome, result.reason, list(result.warnings)) == ("skipped", reason, [warning])
    assert result.ops == ()


# --- which rule claims which pod ------------------------------------------------------------------


def _claims(obj: dict[str, Any]) -> set[str]:
    meta = obj.get("metadata", {})
    subject = subject_of(obj, "Pod", "", "CREATE", meta)
    return {
        rule.type for rule in (rook_osd.RULE, rook_kms.RULE) if rule.applies(subject) is not None
    }


@pytest.mark.parametrize("name", [n for n in CASES if n.startswith("rook-")])
def test_rook_osd_and_rook_kms_never_claim_the_same_pod_before_or_after_mutation(
    name: str,
) -> None:
    review = json.loads((GOLDEN / name / "request.json").read_text())
    before = _claims(review["request"]["object"])
    after = _claims(json.loads((GOLDEN / name / "expected.json").read_text()))
    assert len(before) == 1
    assert after == before


def test_the_osd_pod_types_follow_the_key_volume_rooks_secret_or_its_emptydir() -> None:
    kms, _ = _case("rook-kms-osd")
    default, _ = _case("rook-osd-secret-seed")
    assert _claims(kms) == {c.TYPE_ROOK_KMS}
    assert _claims(default) == {c.TYPE_ROOK_OSD}


# --- the OSD pod ----------------------------------------------------------------------------------


def test_the_injector_takes_the_place_of_encryption_kms_get_kek_and_keeps_the_order() -> None:
    obj, ctx = _case("rook-kms-osd")
    names_before = [i["name"] for i in obj["spec"]["initContainers"]]

    _, out = _mutate(KMS, obj, ctx)

    names_after = [i["name"] for i in out["spec"]["initContainers"]]
    kek = names_before.index(c.ROOK_KMS_INIT_CONTAINER)
    assert names_after == [
        c.INJECTOR_CONTAINER_NAME if i == kek else n for i, n in enumerate(names_before)
    ]
    assert names_after.index(c.INJECTOR_CONTAINER_NAME) < names_after.index(c.ROOK_OPEN_CONTAINER)
    assert [v for v in out["spec"]["volumes"] if v["name"] == c.ROOK_KEY_VOLUME] == [
        {"name": c.ROOK_KEY_VOLUME, "emptyDir": {"medium": "Memory"}}
    ]


def test_the_injector_reads_only_and_checks_the_data_pvc_it_maps_like_blkdevmapper() -> None:
    obj, ctx = _case("rook-kms-osd")
    mapper = _init(obj, "blkdevmapper")

    _, out = _mutate(KMS, obj, ctx)

    injector = _init(out, c.INJECTOR_CONTAINER_NAME)
    env = _env(injector)
    assert names.VSI_SEED_FILE not in env  # read only: in KMS mode the operator made the key
    assert env[names.VSI_LAYOUT] == names.LAYOUT_ROOK
    assert env[names.VSI_VOLUMES] == "set1-data-1-7rxkq"
    assert injector["volumeDevices"] == mapper["volumeDevices"]
    assert env[names.VSI_VERIFY_LUKS] == mapper["volumeDevices"][0]["devicePath"]
    assert {"name": c.CRYPTSETUP_LOCK_VOLUME, "mountPath": c.CRYPTSETUP_LOCK_DIR} in injector[
        "volumeMounts"
    ]
    context = injector["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"]) == (c.DEFAULT_RUN_AS_USER, c.DISK_GROUP)
    assert context["runAsNonRoot"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    # No API access needed: nothing about the CephCluster, no Rook image, no Rook env.
    assert not {"ROOK_CLUSTER_NAME", "POD_NAMESPACE", "KMS_PROVIDER"} & env.keys()


def test_without_a_block_device_before_it_the_injector_runs_unchecked_with_a_warning() -> None:
    obj, ctx = _case("rook-kms-osd")
    del _init(obj, "blkdevmapper")["volumeDevices"]

    result, out = _mutate(KMS, obj, ctx)

    assert list(result.warnings) == [
        "no earlier init container maps the OSD's PVC as a block device: the key is not checked "
        "against its LUKS header"
    ]
    injector = _init(out, c.INJECTOR_CONTAINER_NAME)
    assert names.VSI_VERIFY_LUKS not in _env(injector)
    assert "volumeDevices" not in injector
    assert "runAsGroup" not in injector["securityContext"]
    assert c.CRYPTSETUP_LOCK_VOLUME not in {v["name"] for v in out["spec"]["volumes"]}


def test_an_osd_pod_of_rook_1_14_has_the_same_shape_and_is_mutated() -> None:
    obj, ctx = _case("rook-osd-kms-managed")  # rook-version v1.14.9
    assert obj["metadata"]["labels"]["rook-version"] == "v1.14.9"

    result, out = _mutate(KMS, obj, ctx)

    assert (result.outcome, list(result.warnings)) == ("mutated", [])
    assert c.ROOK_KMS_INIT_CONTAINER not in {i["name"] for i in out["spec"]["initContainers"]}


def test_the_builtin_profile_gives_the_injector_the_rook_vault_secret() -> None:
    obj, ctx = _case("rook-kms-osd")

    result, out = _mutate(BUILTIN, obj, ctx)

    assert result.profile == c.TYPE_ROOK_KMS
    env = _env(_init(out, c.INJECTOR_CONTAINER_NAME))
    assert env[names.VAULT_ADDR] == {
        "secretKeyRef": {"name": c.DEFAULT_ROOK_SECRET, "key": names.VAULT_ADDR}
    }
    assert env[names.VAULT_TOKEN] == {
        "secretKeyRef": {"name": c.DEFAULT_ROOK_SECRET, "key": names.VAULT_TOKEN, "optional": True}
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda pod: _init(pod, c.ROOK_KMS_INIT_CONTAINER).update(name="fetch-kek"),
            "init container encryption-kms-get-kek",
        ),
        (
            lambda pod: _init(pod, c.ROOK_KMS_INIT_CONTAINER)["args"].__setitem__(3, "/key"),
            "encryption-kms-get-kek args: key-management get PVC KEYFILE",
        ),
        (
            lambda pod: _init(pod, c.ROOK_KMS_INIT_CONTAINER)["args"].__setitem__(2, "other"),
            "encryption-kms-get-kek args: key-management get PVC KEYFILE",
        ),
        (
            lambda pod: _init(pod, c.ROOK_OPEN_CONTAINER).update(name="luks-open"),
            "encryption-open after encryption-kms-get-kek, mounting the key",
        ),
        (
            lambda pod: next(
                v for v in pod["spec"]["volumes"] if v["name"] == c.ROOK_KEY_VOLUME
            ).update(emptyDir={}),
            "osd-encryption-key as emptyDir medium Memory",
        ),
    ],
    ids=["kek-renamed", "key-file", "other-pvc", "open-renamed", "key-volume-on-disk"],
)
def test_an_osd_pod_of_another_shape_is_left_alone_naming_what_was_expected(
    change: Any, expected: str
) -> None:
    obj, ctx = _case("rook-kms-osd")
    change(obj)

    result = KMS(obj, ctx)

    _skipped(
        result,
        c.SKIP_UNEXPECTED_SHAPE,
        f"Rook pod shape unknown (expected {expected}); {UNCHANGED}",
    )


def test_list_valued_names_in_the_devices_and_volumes_match_nothing_and_raise_nothing() -> None:
    obj, ctx = _case("rook-kms-osd")
    _init(obj, "blkdevmapper")["volumeDevices"][0]["name"] = ["set1-data-1-7rxkq"]
    obj["spec"]["volumes"].insert(0, {"name": ["x"], "persistentVolumeClaim": {"claimName": "x"}})

    result = KMS(obj, ctx)

    assert result.outcome == "mutated"  # the schema check after admission rejects the object
    assert list(result.warnings) == [
        "no earlier init container maps the OSD's PVC as a block device: the key is not checked "
        "against its LUKS header"
    ]


def test_an_osd_label_naming_none_of_the_pods_pvcs_is_a_conflict() -> None:
    obj, ctx = _case("rook-kms-osd")
    obj["metadata"]["labels"][c.ROOK_PVC_LABEL] = "set1-data-9-other"

    _skipped(
        KMS(obj, ctx),
        c.SKIP_CONFLICT,
        f"label {c.ROOK_PVC_LABEL} set1-data-9-other names none of the pod's PVC volumes; "
        f"{UNCHANGED}",
    )


def test_rook_keeping_its_keys_on_another_mount_leaves_the_osd_pod_to_rook() -> None:
    obj, ctx = _case("rook-kms-osd")
    kek = _init(obj, c.ROOK_KMS_INIT_CONTAINER)
    # The CephCluster without VAULT_BACKEND_PATH: Rook's default in every pod it makes.
    next(e for e in kek["env"] if e["name"] == names.VAULT_BACKEND_PATH)["value"] = "secret/"

    _skipped(
        KMS(obj, ctx),
        c.SKIP_CONFLICT,
        f"Rook reads keys from VAULT_BACKEND_PATH secret/, the profile from rook; {UNCHANGED}",
    )


def test_a_foreign_cryptsetup_lock_volume_is_a_conflict() -> None:
    obj, ctx = _case("rook-kms-osd")
    obj["spec"]["volumes"].append({"name": c.CRYPTSETUP_LOCK_VOLUME, "hostPath": {"path": "/run"}})

    _skipped(
        KMS(obj, ctx),
        c.SKIP_CONFLICT,
        f"volume {c.CRYPTSETUP_LOCK_VOLUME} exists but is not an emptyDir with medium Memory; "
        f"{UNCHANGED}",
    )


def test_without_a_rook_kms_profile_a_kms_osd_pod_is_left_to_rook_with_a_warning() -> None:
    config = parse_config(
        "builtinProfiles: false\n"
        "profiles: [{name: osd, type: rook-osd, connection: {secret: rook-vault}}]\n",
        source="p.yaml",
    )
    mutator = build_mutator(config)
    osd, ctx = _case("rook-kms-osd")
    prepare, prepare_ctx = _case("rook-kms-prepare")

    _skipped(
        mutator(osd, ctx),
        c.SKIP_KMS_MANAGED,
        "Rook fetches this OSD key itself (encryption-kms-get-kek): no rook-kms profile is "
        f"configured; {UNCHANGED}",
    )
    # Rook's other pods are simply not the rook-osd profile's.
    assert (mutator(prepare, prepare_ctx).reason, mutator(prepare, prepare_ctx).warnings) == (
        c.SKIP_NO_PROFILE,
        (),
    )


# --- Rook's own pods ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "container"), ROOK_PODS)
def test_rooks_pods_get_the_rest_of_the_connection_but_never_what_rook_set(
    name: str, container: str
) -> None:
    obj, ctx = _case(name)
    before = _env(next(ct for ct in obj["spec"]["containers"] if ct["name"] == container))

    _, out = _mutate(KMS, obj, ctx)

    after = _env(next(ct for ct in out["spec"]["containers"] if ct["name"] == container))
    assert {k: v for k, v in after.items() if k in before} == before  # Rook's own untouched
    added = {k: v for k, v in after.items() if k not in before}
    expected = {
        names.VAULT_BACKEND_PATH: "rook",
        names.VAULT_BACKEND: "v2",
        names.VAULT_SECRET_ENGINE: "kv",
        names.VAULT_CACERT: f"{c.TLS_MOUNT_PATH}/ca.crt",
        names.VAULT_CLIENT_CERT: f"{c.TLS_MOUNT_PATH}/tls.crt",
        names.VAULT_CLIENT_KEY: f"{c.TLS_MOUNT_PATH}/tls.key",
        names.VAULT_TLS_SERVER_NAME: "vault.test",
    }
    assert added == {k: v for k, v in expected.items() if k not in before}
    assert not c.ROOK_OWN_SETTINGS & added.keys()


@pytest.mark.parametrize(("name", "container"), ROOK_PODS)
def test_a_tls_volume_or_mount_that_is_not_ours_leaves_rooks_pods_alone(
    name: str, container: str
) -> None:
    obj, ctx = _case(name)
    obj["spec"]["volumes"].append({"name": c.TLS_VOLUME_NAME, "secret": {"secretName": "other"}})
    _skipped(
        KMS(obj, ctx),
        c.SKIP_CONFLICT,
        f"volume {c.TLS_VOLUME_NAME} exists but is not a projection of the profile's TLS "
        f"Secrets; {UNCHANGED}",
    )
    obj, ctx = _case(name)
    target = next(ct for ct in obj["spec"]["containers"] if ct["name"] == container)
    target.setdefault("volumeMounts", []).append({"name": "certs", "mountPath": c.TLS_MOUNT_PATH})
    _skipped(
        KMS(obj, ctx),
        c.SKIP_CONFLICT,
        f"container {container} already mounts certs at {c.TLS_MOUNT_PATH}; {UNCHANGED}",
    )


def test_a_tls_path_rook_set_itself_is_kept_and_the_rest_is_added() -> None:
    obj, ctx = _case("rook-kms-prepare")
    provision = obj["spec"]["containers"][0]
    # The CephCluster naming a CA Secret: Rook mounts it at /etc/vault and sets the path.
    provision["env"].append({"name": names.VAULT_CACERT, "value": "/etc/vault/vault.ca"})

    _, out = _mutate(KMS, obj, ctx)

    env = _env(out["spec"]["containers"][0])
    assert env[names.VAULT_CACERT] == "/etc/vault/vault.ca"
    assert env[names.VAULT_CLIENT_CERT] == f"{c.TLS_MOUNT_PATH}/tls.crt"


def test_a_px_vault_secret_gives_rooks_pods_no_address_auth_credential_or_file_path() -> None:
    obj, ctx = _case("rook-kms-prepare")

    _, out = _mutate(BUILTIN, obj, ctx)

    added = [
        e["name"]
        for e in out["spec"]["containers"][0]["env"]
        if e["name"] not in _env(obj["spec"]["containers"][0])
    ]
    assert added == [
        names.VAULT_BACKEND,
        names.VAULT_SECRET_ENGINE,
        names.VAULT_NAMESPACE,
        names.VAULT_TLS_SERVER_NAME,
        names.VAULT_SKIP_VERIFY,
        names.VAULT_AUTH_KUBERNETES_ROLE,
        names.VAULT_AUTH_KUBERNETES_TOKEN_PATH,
        names.VAULT_AUTH_MOUNT_PATH,
        names.VAULT_CLIENT_TIMEOUT,
        names.VAULT_MAX_RETRIES,
        names.VAULT_COOLDOWN_PERIOD,
        names.VAULT_RATE_LIMIT,
        names.VAULT_SRV_LOOKUP,
    ]


def test_a_prepare_pod_on_another_mount_than_the_profile_is_mutated_with_a_warning() -> None:
    obj, ctx = _case("rook-kms-prepare")
    env = obj["spec"]["containers"][0]["env"]
    next(e for e in env if e["name"] == names.VAULT_BACKEND_PATH)["value"] = "secret/"

    result, _ = _mutate(KMS, obj, ctx)

    assert result.outcome == "mutated"
    assert list(result.warnings) == [
        "Rook reads keys from VAULT_BACKEND_PATH secret/, the profile from rook: set it in "
        "security.kms"
    ]


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        (
            "rook-kms-operator",
            lambda pod: pod["spec"]["containers"][0].update(args=["ceph", "operatorx"]),
            "a container running rook ceph operator",
        ),
        (
            "rook-kms-prepare",
            lambda pod: pod["spec"]["containers"][0].update(name="prepare"),
            "a container running provision: rook ceph osd provision",
        ),
        (
            "rook-kms-key-rotation",
            lambda pod: pod["spec"]["containers"][0]["args"].__setitem__(1, "rotate"),
            "a container running rook key-management rotate-key",
        ),
    ],
    ids=["operator", "prepare", "key-rotation"],
)
def test_a_rook_pod_of_another_shape_is_left_alone_naming_what_was_expected(
    name: str, change: Any, expected: str
) -> None:
    obj, ctx = _case(name)
    change(obj)

    _skipped(
        KMS(obj, ctx),
        c.SKIP_UNEXPECTED_SHAPE,
        f"Rook pod shape unknown (expected {expected}); {UNCHANGED}",
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [(c.ROOK_ENCRYPTED_DEVICE_ENV, "false"), (c.ROOK_KMS_PROVIDER_ENV, "kmip")],
    ids=["unencrypted-osd", "another-kms"],
)
def test_a_prepare_pod_rook_does_not_run_against_vault_is_nobodys(name: str, value: str) -> None:
    obj, ctx = _case("rook-kms-prepare")
    next(e for e in obj["spec"]["containers"][0]["env"] if e["name"] == name)["value"] = value

    result = BUILTIN(obj, ctx)

    assert (result.reason, result.warnings, result.ops) == (c.SKIP_NO_PROFILE, (), ())


def test_rooks_pods_are_not_touched_when_the_namespace_is_not_enabled() -> None:
    obj, ctx = _case("rook-kms-operator")
    cluster = StaticCluster(namespaces={"rook-ceph": {}})
    data = dict(ctx.__dict__)
    data["cluster"] = cluster
    assert KMS(obj, AdmissionContext(**data)).reason == c.SKIP_NAMESPACE_NOT_ENABLED


def test_the_cryptsetup_lock_directory_is_no_key_mount_path() -> None:
    with pytest.raises(ConfigError, match=r"keyVolume\.mountPath: must not be, contain or lie"):
        parse_config("keyVolume: {mountPath: /run/cryptsetup}\n", source="p.yaml")


def test_the_kms_example_config_loads_and_leaves_the_address_and_mount_to_the_cephcluster() -> None:
    example = GOLDEN.parents[1] / "manifests" / "examples" / "rook" / "kms"
    config = load_config(example / "config.yaml")
    cluster = yaml.safe_load((example / "cephcluster-security-kms.yaml").read_text())
    details = cluster["spec"]["security"]["kms"]["connectionDetails"]
    profile = config.profile(c.TYPE_ROOK_KMS)
    assert profile is not None
    assert profile.type == c.TYPE_ROOK_KMS
    values = dict(profile.connection.values)
    for name in (names.VAULT_ADDR, names.VAULT_BACKEND_PATH, names.VAULT_AUTH_METHOD):
        assert values[name] == details[name], name
    # Least privilege: the injector's role is not Rook's.
    role = names.VAULT_AUTH_KUBERNETES_ROLE
    assert values[role] != details[role]
    assert set(details) <= {
        c.ROOK_KMS_PROVIDER_ENV,
        names.VAULT_BACKEND_PATH,
        role,
        *c.ROOK_OWN_SETTINGS,
    }

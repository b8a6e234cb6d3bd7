"""What a Vault client's container would start with: the doctor's reading of env and volumes.

The objects are the webhook's own output (its mutator on the golden cases), so these tests pin
the doctor to what the webhook really injects.
"""

from __future__ import annotations

import json
from typing import Any

import jsonpatch

from tests.unit.webhook.support import GOLDEN
from vsi_common import names
from webhook.core import constants as c
from webhook.core.config import parse_config
from webhook.core.model import AdmissionContext
from webhook.core.mutation import build_mutator
from webhook.doctor.consumers import (
    INJECTOR,
    PORTWORX,
    PORTWORX_OPERATOR_SERVICE_ACCOUNT,
    consumer_of,
    secret_refs,
)
from webhook.doctor.startup import Resolved, Unresolved, dedupe_key, resolve, seed_secrets
from webhook.doctor.state import DAEMONSET, POD, STORAGE_CLUSTER, SecretData, Workload

CONFIG = parse_config(
    """\
builtinProfiles: true
profiles:
  - {name: rook-osd, type: rook-osd, connection: {secret: rook-vault, tlsSecret: vault-tls}}
  - {name: px-tls, type: portworx-operator, connection: {secret: px-vault, tlsSecret: vault-tls}}
""",
    source="test",
)
CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
SEED = b"c2VlZCBvZiByb29r"
ROOK = {
    "rook-vault": SecretData(
        "rook-vault",
        {
            "VAULT_ADDR": b"https://vault:8200",
            "VAULT_AUTH_METHOD": b"kubernetes",
            "VAULT_AUTH_KUBERNETES_ROLE": b"osd",
        },
    ),
    "vault-tls": SecretData("vault-tls", {"ca.crt": CA}),
    "rook-ceph-osd-encryption-key-set1-data-0-8n462": SecretData(
        "rook-ceph-osd-encryption-key-set1-data-0-8n462", {"dmcrypt-key": SEED}
    ),
}


def _golden(case: str) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads((GOLDEN / case / "request.json").read_text())["request"][
        "object"
    ]
    obj["metadata"].setdefault("name", "obj")
    return obj


def _mutated(obj: dict[str, Any], group: str, kind: str) -> dict[str, Any]:
    ctx = AdmissionContext(
        operation="CREATE",
        namespace=obj["metadata"]["namespace"],
        group=group,
        version="v1",
        kind=kind,
        assume_namespace_enabled=True,
    )
    result = build_mutator(CONFIG)(obj, ctx)
    assert result.ops
    patched: dict[str, Any] = jsonpatch.apply_patch(obj, list(result.ops))
    return patched


def _osd() -> Any:
    obj = _golden("rook-osd-secret-seed")
    consumer = consumer_of(Workload(POD, obj), _mutated(obj, "", "Pod"), "rook-osd")
    assert consumer is not None
    return consumer


def test_an_osd_pod_is_checked_as_its_injector_starts() -> None:
    consumer = _osd()

    resolved = resolve(consumer, ROOK)

    assert consumer.mode == INJECTOR
    assert consumer.service_account == "rook-ceph-osd"
    assert isinstance(resolved, Resolved)
    env = resolved.env
    assert env[names.VSI_LAYOUT] == names.LAYOUT_ROOK
    assert env[names.VSI_VOLUMES] == "set1-data-0-8n462"
    assert env[names.VSI_NAMESPACE] == "rook-ceph"
    assert env[names.VAULT_ADDR] == "https://vault:8200"
    assert names.VSI_OUTPUT_DIR not in env  # the in-memory volume exists on the node only
    assert resolved.files[env[names.VSI_SEED_FILE]] == SEED
    assert resolved.files[f"{env[names.VSI_TLS_DIR]}/ca.crt"] == CA
    assert set(resolved.mounts.values()) == {
        "/var/run/vault-storage-injector/seed",
        "/etc/vault-storage-injector/tls",
    }
    # The seed is a secret, the CA is not.
    assert SEED in resolved.secrets
    assert CA not in resolved.secrets
    assert resolved.sources == tuple(sorted(ROOK))


def test_a_missing_required_key_means_the_container_would_not_start() -> None:
    secrets = {**ROOK, "rook-vault": SecretData("rook-vault", {"VAULT_TOKEN": b"t"})}

    resolved = resolve(_osd(), secrets)

    assert isinstance(resolved, Unresolved)
    assert resolved.status == "fail"
    assert resolved.detail == (
        "VAULT_ADDR comes from key VAULT_ADDR of Secret rook-vault, which it lacks: the "
        "container would not start"
    )
    assert resolved.fix == "add the key VAULT_ADDR to the Secret rook-vault"


def test_a_missing_optional_key_stays_unset() -> None:
    resolved = resolve(_osd(), ROOK)

    assert isinstance(resolved, Resolved)
    assert names.VAULT_TOKEN not in resolved.env  # optional secretKeyRef, key absent


def test_a_missing_tls_secret_means_the_pod_would_not_start() -> None:
    secrets = {k: v for k, v in ROOK.items() if k != "vault-tls"}

    resolved = resolve(_osd(), secrets)

    assert isinstance(resolved, Unresolved)
    assert resolved.status == "fail"
    assert "mounts Secret vault-tls, which is not there" in resolved.detail


def test_the_secrets_to_read_are_those_the_container_names() -> None:
    assert secret_refs(_osd()) == frozenset(ROOK)


SEED_SECRET = "rook-ceph-osd-encryption-key-set1-data-0-8n462"


def test_the_seed_is_rooks_key_secret() -> None:
    assert seed_secrets(_osd()) == {SEED_SECRET}
    obj = _golden("portworx-daemonset")
    daemonset = consumer_of(Workload(DAEMONSET, obj), _mutated(obj, "apps", "DaemonSet"), "px")
    assert daemonset is not None
    assert seed_secrets(daemonset) == frozenset()


def test_a_seed_the_doctor_may_not_read_is_left_out_of_the_settings() -> None:
    readable = {k: v for k, v in ROOK.items() if k != SEED_SECRET}

    resolved = resolve(_osd(), readable, frozenset({SEED_SECRET}))

    assert isinstance(resolved, Resolved)
    assert resolved.unread_seed == (SEED_SECRET,)
    assert names.VSI_SEED_FILE not in resolved.env
    assert SEED not in resolved.files.values()
    assert resolved.env[names.VAULT_ADDR] == "https://vault:8200"  # the connection is all there


def test_another_unreadable_secret_is_no_seed() -> None:
    readable = {k: v for k, v in ROOK.items() if k != "vault-tls"}

    resolved = resolve(_osd(), readable, frozenset({"vault-tls"}))

    assert isinstance(resolved, Unresolved)  # the TLS Secret is needed: not left out


def test_a_ca_file_on_the_node_cannot_be_checked_from_here() -> None:
    obj = _golden("portworx-daemonset")
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "VAULT_CACERT", "value": "/etc/pwx/vault/ca.crt"}]
    container.setdefault("volumeMounts", []).append({"name": "etcpwx", "mountPath": "/etc/pwx"})
    consumer = consumer_of(Workload(DAEMONSET, obj), obj, "portworx")
    assert consumer is not None

    resolved = resolve(consumer, {})

    assert consumer.mode == PORTWORX
    assert isinstance(resolved, Unresolved)
    assert resolved.status == "warn"
    assert resolved.detail.startswith("VAULT_CACERT=/etc/pwx/vault/ca.crt is on a volume that is")


def test_a_storage_cluster_is_checked_as_the_operators_pods_connect() -> None:
    obj = _golden("storagecluster")
    obj["metadata"]["annotations"] = {"vault-storage-injector.io/profile": "px-tls"}
    mutated = _mutated(obj, "core.libopenstorage.org", "StorageCluster")
    consumer = consumer_of(Workload(STORAGE_CLUSTER, obj), mutated, "px-tls")
    assert consumer is not None
    px = {
        "px-vault": SecretData("px-vault", {"VAULT_ADDR": b"https://v", "VAULT_TOKEN": b"tok"}),
        "vault-tls": SecretData("vault-tls", {"ca.crt": CA}),
    }

    resolved = resolve(consumer, px)

    assert consumer.service_account == PORTWORX_OPERATOR_SERVICE_ACCOUNT
    assert isinstance(resolved, Resolved)
    assert resolved.files[resolved.env[names.VAULT_CACERT]] == CA
    assert resolved.mounts == {"m0": "/etc/vault-storage-injector/tls"}
    assert resolved.secrets == ("tok",)


def test_the_doctor_asks_for_the_audience_of_the_injectors_own_vault_token() -> None:
    obj = _golden("rook-osd-secret-seed")
    for volume in obj["spec"]["volumes"]:  # the pod's API token: never the injector's login
        for source in volume.get("projected", {}).get("sources", []):
            if "serviceAccountToken" in source:
                source["serviceAccountToken"]["audience"] = "https://kubernetes.default.svc"
    consumer = consumer_of(Workload(POD, obj), _mutated(obj, "", "Pod"), "rook-osd")
    assert consumer is not None

    resolved = resolve(consumer, ROOK)

    assert isinstance(resolved, Resolved)
    assert resolved.audiences == (c.DEFAULT_TOKEN_AUDIENCE,)


def test_a_pod_and_its_twin_are_checked_once() -> None:
    first, second = _osd(), _osd()
    one, two = resolve(first, ROOK), resolve(second, ROOK)
    assert isinstance(one, Resolved)
    assert isinstance(two, Resolved)

    assert dedupe_key(first, one) == dedupe_key(second, two)


def test_an_object_without_a_vault_client_has_no_consumer() -> None:
    obj = {"metadata": {"name": "x", "namespace": "n"}, "spec": {"containers": [{"name": "a"}]}}

    assert consumer_of(Workload(POD, obj), obj, "volume-keys") is None

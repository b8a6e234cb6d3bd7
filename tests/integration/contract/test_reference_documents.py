"""The reference documents' setups, end to end: each golden case built from their examples starts
the way the kubelet would start it and reaches the OpenBao fixture over HTTPS for its key.

- the Portworx manual's DaemonSet install: its px-vault Secret with every key (Kubernetes auth as
  ``kube-system/px-account``, TLS files on the node under ``/etc/pwx``, a Vault namespace, a TLS
  server name) in ``portworx``, where Portworx reads it itself, the DaemonSet in ``kube-system``
  (so the webhook adds no reference to it), the Vault side made by the example's setup.sh;
- the Portworx Operator's StorageCluster with the manual's token Secret and a CA-only TLS Secret;
- Rook's ``security.kms`` block of the Rook KMS document, pasted verbatim, with its three TLS
  Secrets and its token Secret, against the KV v1 mount that document makes;
- a TLS Secret holding only ``ca.crt`` for every profile type.

Portworx has no injector: its container's resolved env and mounts are handed to ``vsi-injector``
as a stand-in Vault client (it reads the same ``VAULT_*`` names as paths and fails the same way
on a missing file); a px-vault Portworx reads itself is given to it as Portworx's Vault library
takes it, its keys before the env (libopenstorage/secrets ``GetVaultParam``). Run outside a
container, the stand-in is only told the one default path it would find at its place there, the
service-account token.
"""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hvac
import kmock
import pytest

from demo.openbao import TLS_SERVER_NAME, OpenBao
from doubles.tokenreview import TokenReviewer
from tests.integration.contract.kubelet import (
    SERVICE_ACCOUNT_DIR,
    Node,
    Pod,
    PodWouldNotStart,
    Started,
    with_service_account,
)
from tests.integration.contract.test_webhook_to_injector import (
    container,
    kv2_mount,
    mutated,
    run,
    snapshot_keys,
)
from tests.integration.manifests.test_vault_setup import PORTWORX_SETUP, setup
from webhook.core import constants as c

pytestmark = pytest.mark.kmock(cls=kmock.RawHandler)
MANIFESTS = Path(__file__).resolve().parents[3] / "manifests"
TLS_FILES = {"ca.crt", "tls.crt", "tls.key"}


def stand_in(started: Started, tmp_path: Path, **extra: str) -> tuple[Any, Path]:
    """Portworx's environment given to the injector as a Vault client: one key, created."""
    out = tmp_path / "stand-in"
    out.mkdir()
    settings = {
        "VSI_LAYOUT": "volume-keys",
        "VSI_VOLUMES": "px-probe",
        "VSI_OUTPUT_DIR": str(out),
        "VSI_NAMESPACE": "probe",
        "VSI_DEADLINE": "15",
        **extra,
    }
    return run(started, **settings), out / "px-probe"


def stored_key(client: hvac.Client, mount: str) -> bytes:
    data = client.secrets.kv.v2.read_secret_version(
        path="vault-storage-injector/probe/px-probe",
        mount_point=mount,
        raise_on_deleted_version=True,
    )
    return base64.b64decode(data["data"]["data"]["key"])


def tls_dir(started: Started) -> set[str]:
    """The files the injector finds in its TLS directory."""
    directory = Path(started.env["VSI_TLS_DIR"])
    return {p.name for p in directory.iterdir() if not p.name.startswith("..")}


def operator_pod(storage_cluster: dict[str, Any]) -> dict[str, Any]:
    """The part of the Portworx pod the Operator renders from a StorageCluster: spec.env into the
    portworx container, spec.volumes as pod volumes mounted at their own mountPath."""
    spec = storage_cluster["spec"]
    own = ("mountPath", "readOnly", "mountPropagation")
    volumes = [{k: v for k, v in vol.items() if k not in own} for vol in spec.get("volumes", [])]
    mounts = [
        {"name": v["name"], "mountPath": v["mountPath"], "readOnly": v.get("readOnly", False)}
        for v in spec.get("volumes", [])
    ]
    portworx = {"name": "portworx", "env": spec["env"], "volumeMounts": mounts}
    return {"containers": [portworx], "volumes": volumes}


# --- the Portworx manual --------------------------------------------------------------------------


async def test_the_portworx_manuals_daemonset_and_px_vault_secret_reach_vault(
    openbao: OpenBao, kmock: kmock.RawHandler, tmp_path: Path
) -> None:
    case = "portworx-daemonset-000"
    daemonset = mutated(case)
    namespace = daemonset["metadata"]["namespace"]
    spec = with_service_account(daemonset["spec"]["template"]["spec"])
    portworx_env = {e["name"]: e for e in spec["containers"][0]["env"]}
    assert not [name for name in portworx_env if name.startswith("VAULT_")]
    assert spec["containers"][0]["args"][-2:] == ["-secret_type", "vault"]
    reviewer = TokenReviewer()
    reviewer.install(kmock)
    # The Vault side as the example's setup.sh makes it, inside a Vault namespace.
    vault_ns = f"px-{uuid.uuid4().hex[:8]}"
    openbao.client().sys.create_namespace(vault_ns)  # type: ignore[no-untyped-call]
    setup(
        openbao,
        PORTWORX_SETUP,
        "kubernetes",
        PX_INSTALL="daemonset",
        VAULT_NAMESPACE=vault_ns,
        KUBERNETES_HOST=str(kmock.url).rstrip("/"),
        KUBERNETES_CA_CERT=str(openbao.ca_cert),
    )
    # The manual's TLS files "present on all the nodes", under the /etc/pwx host mount.
    etc_pwx = tmp_path / "node-etc-pwx"
    (etc_pwx / "vault" / "cas").mkdir(parents=True)
    (etc_pwx / "vault" / "ca.crt").write_bytes(openbao.ca_cert.read_bytes())
    (etc_pwx / "vault" / "cas" / "ca.pem").write_bytes(openbao.ca_cert.read_bytes())
    (etc_pwx / "vault" / "client.crt").write_bytes(openbao.client_cert.read_bytes())
    (etc_pwx / "vault" / "client.key").write_bytes(openbao.client_key.read_bytes())
    px_vault = {
        "VAULT_ADDR": openbao.mtls_addr,
        "VAULT_BACKEND_PATH": "portworx",
        "VAULT_CACERT": "/etc/pwx/vault/ca.crt",
        "VAULT_CAPATH": "/etc/pwx/vault/cas",
        "VAULT_CLIENT_CERT": "/etc/pwx/vault/client.crt",
        "VAULT_CLIENT_KEY": "/etc/pwx/vault/client.key",
        "VAULT_TLS_SERVER_NAME": TLS_SERVER_NAME,
        "VAULT_AUTH_METHOD": "kubernetes",
        "VAULT_AUTH_KUBERNETES_ROLE": "portworx",
        "VAULT_NAMESPACE": vault_ns,
    }
    # The seed's layout: px-vault in portworx, which Portworx reads itself.
    assert set(px_vault) == snapshot_keys(case, c.PX_DAEMONSET_SECRETS_NAMESPACE, "px-vault")
    node = Node(
        namespace,
        host_paths={"/etc/pwx": etc_pwx},
        service_account_token=reviewer.jwt(namespace, spec["serviceAccountName"]),
    )
    portworx = Pod(spec, node, tmp_path).start("portworx")
    token = str(portworx.path(f"{SERVICE_ACCOUNT_DIR}/token"))
    # Portworx's Vault library takes the Secret's keys first (paths as the container sees them).
    read_itself = {name: portworx.mapped(value) for name, value in px_vault.items()}

    result, key = await _async(
        stand_in, portworx, tmp_path, **read_itself, VAULT_AUTH_KUBERNETES_TOKEN_PATH=token
    )

    assert result.returncode == 0, result.stderr
    assert key.read_bytes() == stored_key(openbao.client(namespace=vault_ns), "portworx")


async def _async(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking step in a thread: Vault's TokenReview goes to the double on this loop."""
    return await asyncio.to_thread(function, *args, **kwargs)


def test_the_operators_storagecluster_with_a_ca_only_secret_reaches_vault(
    openbao: OpenBao, tmp_path: Path
) -> None:
    case = "storagecluster-000-ca-only"
    storage_cluster = mutated(case)
    namespace = storage_cluster["metadata"]["namespace"]
    vault_ns = f"px-{uuid.uuid4().hex[:8]}"
    openbao.client().sys.create_namespace(vault_ns)  # type: ignore[no-untyped-call]
    mount = kv2_mount(openbao.client(namespace=vault_ns))
    px_vault = {
        "VAULT_ADDR": openbao.https_addr,
        "VAULT_TOKEN": openbao.root_token,
        # The manual's node paths: not passed on next to the profile's TLS Secret.
        "VAULT_CACERT": "/etc/pwx/vault/ca.crt",
        "VAULT_CAPATH": "/etc/pwx/vault/cas",
        "VAULT_CLIENT_CERT": "/etc/pwx/vault/client.crt",
        "VAULT_CLIENT_KEY": "/etc/pwx/vault/client.key",
        "VAULT_TLS_SERVER_NAME": TLS_SERVER_NAME,
        "VAULT_BACKEND_PATH": mount,
        "VAULT_NAMESPACE": vault_ns,
    }
    assert set(px_vault) == snapshot_keys(case, namespace, "px-vault")
    assert snapshot_keys(case, namespace, "vault-ca") == {"ca.crt"}
    node = Node(
        namespace,
        secrets={"px-vault": px_vault, "vault-ca": {"ca.crt": openbao.ca_cert.read_text()}},
    )
    portworx = Pod(operator_pod(storage_cluster), node, tmp_path).start("portworx")

    result, key = stand_in(portworx, tmp_path)

    assert result.returncode == 0, result.stderr
    assert portworx.env["VAULT_CACERT"] == str(portworx.path(f"{c.TLS_MOUNT_PATH}/ca.crt"))
    assert not {"VAULT_CAPATH", "VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY"} & portworx.env.keys()
    assert key.read_bytes() == stored_key(openbao.client(namespace=vault_ns), mount)


# --- the Rook KMS document ------------------------------------------------------------------------


def test_rooks_kms_block_with_its_three_tls_secrets_reaches_rooks_kv1_mount(
    openbao_factory: Callable[[], OpenBao], tmp_path: Path
) -> None:
    case = "rook-osd-kms-004"
    pod = mutated(case)
    namespace = pod["metadata"]["namespace"]
    pvc = pod["metadata"]["labels"]["ceph.rook.io/pvc"]
    server = openbao_factory()  # its own server: the block names the mount "rook"
    root = server.client()
    root.sys.enable_secrets_engine("kv", path="rook")  # `vault secrets enable -path=rook kv`
    policy = (MANIFESTS / "examples/rook/vault/rook-osd-kv1.hcl").read_text()
    root.sys.create_or_update_policy("rook-ceph-osd", policy)
    token = root.auth.token.create(policies=["rook-ceph-osd"], no_parent=True)["auth"]
    rook_key = base64.b64encode(os.urandom(128))
    secrets: dict[str, dict[str, str | bytes]] = {
        "vault-tls-ca-certificate": {"cert": server.ca_cert.read_bytes()},
        "vault-client-cert": {"cert": server.client_cert.read_bytes()},
        "vault-client-key": {"key": server.client_key.read_bytes()},
        "rook-vault-token": {"token": token["client_token"]},
        f"rook-ceph-osd-encryption-key-{pvc}": {"dmcrypt-key": rook_key},
    }
    for name in list(secrets)[:4]:
        assert set(secrets[name]) == snapshot_keys(case, namespace, name)
    node = Node(namespace, secrets=secrets)
    node.config_maps["rook-config-override"] = {"config": ""}
    running = Pod(pod["spec"], node, tmp_path)
    injector = running.start(c.INJECTOR_CONTAINER_NAME)
    # Cluster DNS: the block's vault.default.svc.cluster.local:8200 is the fixture's mTLS port.
    assert injector.env["VAULT_ADDR"] == "https://vault.default.svc.cluster.local:8200"
    address = server.mtls_addr

    result = run(injector, container(pod, c.INJECTOR_CONTAINER_NAME), VAULT_ADDR=address)

    assert result.returncode == 0, result.stderr
    assert tls_dir(injector) == TLS_FILES  # the client pair was there, and the mTLS port took it
    assert running.start("encryption-open").path("/etc/ceph/luks_key").read_bytes() == rook_key
    name = f"rook-ceph-osd-encryption-key-{pvc}"
    stored = root.secrets.kv.v1.read_secret(path=name, mount_point="rook")["data"]
    assert stored == {name: rook_key.decode()}  # as Rook's own KMS code stores it


# --- a CA-only TLS Secret, for every profile type -------------------------------------------------


def _ca_only(openbao: OpenBao, case: str, secret: str, mount: str) -> tuple[dict[str, Any], Node]:
    obj = mutated(case)
    namespace = obj["metadata"]["namespace"]
    connection = {
        "VAULT_ADDR": openbao.https_addr,
        "VAULT_TOKEN": openbao.root_token,
        "VAULT_BACKEND_PATH": mount,
    }
    assert set(connection) >= snapshot_keys(case, namespace, secret)
    assert snapshot_keys(case, namespace, "vault-ca") == {"ca.crt"}
    ca = {"ca.crt": openbao.ca_cert.read_text()}
    return obj, Node(namespace, secrets={secret: connection, "vault-ca": ca})


def test_portworx_with_a_ca_only_secret_gets_the_ca_and_nothing_else(
    openbao: OpenBao, tmp_path: Path
) -> None:
    mount = kv2_mount(openbao.client())
    daemonset, node = _ca_only(openbao, "portworx-daemonset-ca-only", "px-vault", mount)
    portworx = Pod(daemonset["spec"]["template"]["spec"], node, tmp_path).start("portworx")

    result, key = stand_in(portworx, tmp_path)

    assert result.returncode == 0, result.stderr
    assert portworx.env["VAULT_CACERT"] == str(portworx.path(f"{c.TLS_MOUNT_PATH}/ca.crt"))
    assert Path(portworx.env["VAULT_CACERT"]).is_file()
    assert "VAULT_CLIENT_CERT" not in portworx.env
    assert key.read_bytes() == stored_key(openbao.client(), mount)


def test_the_rook_osd_injector_with_a_ca_only_secret_verifies_vault(
    openbao: OpenBao, tmp_path: Path
) -> None:
    mount = kv2_mount(openbao.client())
    pod, node = _ca_only(openbao, "rook-osd-ca-only", "rook-vault", mount)
    pvc = pod["metadata"]["labels"]["ceph.rook.io/pvc"]
    rook_key = base64.b64encode(os.urandom(128))
    node.secrets[f"rook-ceph-osd-encryption-key-{pvc}"] = {"dmcrypt-key": rook_key}
    node.config_maps["rook-config-override"] = {"config": ""}
    running = Pod(pod["spec"], node, tmp_path)
    injector = running.start(c.INJECTOR_CONTAINER_NAME)

    result = run(injector, container(pod, c.INJECTOR_CONTAINER_NAME))

    assert result.returncode == 0, result.stderr
    assert tls_dir(injector) == {"ca.crt"}
    assert running.start("encryption-open").path("/etc/ceph/luks_key").read_bytes() == rook_key


def test_the_volume_keys_injector_with_a_ca_only_secret_verifies_vault(
    openbao: OpenBao, tmp_path: Path
) -> None:
    mount = kv2_mount(openbao.client())
    pod, node = _ca_only(openbao, "volume-keys-pod-ca-only", "vsi-vault", mount)
    running = Pod(pod["spec"], node, tmp_path)
    injector = running.start(c.INJECTOR_CONTAINER_NAME)

    result = run(injector, container(pod, c.INJECTOR_CONTAINER_NAME))

    assert result.returncode == 0, result.stderr
    assert tls_dir(injector) == {"ca.crt"}
    key_file = running.start("postgres").path(f"{c.DEFAULT_KEY_MOUNT_PATH}/data-postgres-0")
    stored = openbao.client().secrets.kv.v2.read_secret_version(
        path=f"vault-storage-injector/{node.namespace}/data-postgres-0",
        mount_point=mount,
        raise_on_deleted_version=True,
    )
    assert base64.b64decode(stored["data"]["data"]["key"]) == key_file.read_bytes()


def test_a_golden_case_whose_tls_file_is_missing_would_not_start(tmp_path: Path) -> None:
    """The projection is never optional: a Secret without the declared file holds the pod back
    rather than starting Portworx with a path to a missing file."""
    daemonset = mutated("portworx-daemonset-ca-only")
    node = Node("kube-system", secrets={"px-vault": {"VAULT_ADDR": "https://v"}, "vault-ca": {}})

    with pytest.raises(PodWouldNotStart, match=r"vault-ca has no key ca\.crt"):
        Pod(daemonset["spec"]["template"]["spec"], node, tmp_path)

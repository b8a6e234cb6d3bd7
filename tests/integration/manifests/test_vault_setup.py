"""The examples' Vault setup scripts and policies, run against a real OpenBao server."""

from __future__ import annotations

import subprocess
import uuid

import hvac
import hvac.exceptions
import pytest

from demo.openbao import OpenBao, bao_binary
from tests.integration.manifests.conftest import MANIFESTS

ROOK_SETUP = MANIFESTS / "examples/rook/vault/setup.sh"
PORTWORX_SETUP = MANIFESTS / "examples/portworx/vault/setup.sh"
KEY = "rook-ceph-osd-encryption-key-set1-data-0"


def run_setup(openbao: OpenBao, script: str, auth: str, **settings: str) -> str:
    """Run a setup.sh with the bao CLI; its stdout (the token for `token`)."""
    result = subprocess.run(
        ["bash", script, auth],
        env=openbao.env(VAULT=bao_binary(), **settings),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_rook_kubernetes_setup_binds_the_osd_service_account_and_is_rerunnable(
    openbao: OpenBao,
) -> None:
    names = {"MOUNT": unique("rook"), "POLICY": unique("osd"), "AUTH_MOUNT": unique("k8s")}
    run_setup(openbao, str(ROOK_SETUP), "kubernetes", **names)
    run_setup(openbao, str(ROOK_SETUP), "kubernetes", **names)

    root = openbao.client()
    role = root.read(f"auth/{names['AUTH_MOUNT']}/role/rook-ceph-osd")["data"]
    assert role["bound_service_account_names"] == ["rook-ceph-osd"]
    assert role["bound_service_account_namespaces"] == ["rook-ceph"]
    assert role["token_policies"] == [names["POLICY"]]
    assert root.sys.read_mount_configuration(names["MOUNT"])["data"]["options"]["version"] == "2"


def test_rook_kv2_policy_creates_once_and_a_second_create_is_a_cas_conflict(
    openbao: OpenBao,
) -> None:
    mount, policy = unique("rook"), unique("osd")
    token = run_setup(openbao, str(ROOK_SETUP), "token", MOUNT=mount, POLICY=policy)
    osd = openbao.client(token=token)
    kv = osd.secrets.kv.v2

    kv.create_or_update_secret(path=KEY, secret={KEY: "first"}, cas=0, mount_point=mount)
    # The loser of a race gets a check-and-set conflict (400), which the injector resolves by
    # re-reading, not "permission denied".
    with pytest.raises(hvac.exceptions.InvalidRequest, match="check-and-set"):
        kv.create_or_update_secret(path=KEY, secret={KEY: "second"}, cas=0, mount_point=mount)
    # cas_required on the mount: a write without cas cannot replace the key either.
    with pytest.raises(hvac.exceptions.InvalidRequest, match="check-and-set"):
        kv.create_or_update_secret(path=KEY, secret={KEY: "third"}, mount_point=mount)
    read = kv.read_secret_version(path=KEY, mount_point=mount, raise_on_deleted_version=True)
    assert read["data"]["data"] == {KEY: "first"}
    # Nothing but the OSD keys.
    with pytest.raises(hvac.exceptions.Forbidden):
        kv.create_or_update_secret(path="other", secret={"k": "v"}, cas=0, mount_point=mount)


def test_rook_kv1_policy_is_create_only(openbao: OpenBao) -> None:
    mount, policy = unique("rookv1"), unique("osd")
    token = run_setup(openbao, str(ROOK_SETUP), "token", MOUNT=mount, POLICY=policy, KV_VERSION="1")
    kv = openbao.client(token=token).secrets.kv.v1

    kv.create_or_update_secret(path=KEY, secret={KEY: "first"}, mount_point=mount)
    with pytest.raises(hvac.exceptions.Forbidden):
        kv.create_or_update_secret(path=KEY, secret={KEY: "second"}, mount_point=mount)
    assert kv.read_secret(path=KEY, mount_point=mount)["data"] == {KEY: "first"}


def test_portworx_setup_gives_portworx_its_mount_and_binds_its_service_account(
    openbao: OpenBao,
) -> None:
    names = {"MOUNT": unique("px"), "POLICY": unique("px"), "AUTH_MOUNT": unique("k8s")}
    run_setup(openbao, str(PORTWORX_SETUP), "kubernetes", **names)
    root = openbao.client()
    role = root.read(f"auth/{names['AUTH_MOUNT']}/role/portworx")["data"]
    assert role["bound_service_account_names"] == ["portworx"]
    assert role["bound_service_account_namespaces"] == ["portworx"]

    token = run_setup(openbao, str(PORTWORX_SETUP), "token", **names)
    kv = openbao.client(token=token).secrets.kv.v2
    kv.create_or_update_secret(path="pwx/vol1", secret={"k": "a"}, mount_point=names["MOUNT"])
    kv.create_or_update_secret(path="pwx/vol1", secret={"k": "b"}, mount_point=names["MOUNT"])
    read = kv.read_secret_version(
        path="pwx/vol1", mount_point=names["MOUNT"], raise_on_deleted_version=True
    )
    assert read["data"]["data"] == {"k": "b"}
    kv.delete_metadata_and_all_versions(path="pwx/vol1", mount_point=names["MOUNT"])


def test_setup_refuses_an_unknown_auth_method(openbao: OpenBao) -> None:
    result = subprocess.run(
        ["bash", str(ROOK_SETUP), "ldap"],
        env=openbao.env(VAULT=bao_binary()),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "usage: setup.sh kubernetes|token" in result.stderr

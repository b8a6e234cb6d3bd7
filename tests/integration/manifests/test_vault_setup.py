"""The examples' Vault setup scripts and policies, run with the bao CLI against a real OpenBao.

Each script looks before it acts: the tests give it a fresh server path, a KV v1 mount made as
Rook's own document makes it, and an existing KV v2 mount, then log in as the storage pod would
(kubernetes auth through the TokenReview double) and read the key. A second run must report no
change and leave Vault as it was; ``--dry-run`` must change nothing at all.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import kmock
import pytest

from demo.openbao import OpenBao, bao_binary
from doubles.tokenreview import API_AUDIENCES, TokenReviewer
from tests.integration.injector.conftest import (
    Result,
    run_injector,
    run_injector_async,
    start_injector,
)
from tests.integration.manifests.conftest import MANIFESTS

ROOK_SETUP = MANIFESTS / "examples/rook/vault/setup.sh"
PORTWORX_SETUP = MANIFESTS / "examples/portworx/vault/setup.sh"
PVC = "set1-data-0"
KEY = f"rook-ceph-osd-encryption-key-{PVC}"
# A plain HTTP double: the Kubernetes emulator would store each TokenReview and refuse the next
# one as AlreadyExists.
pytestmark = pytest.mark.kmock(cls=kmock.RawHandler)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def setup(
    openbao: OpenBao, script: Path, *args: str, code: int = 0, **settings: str
) -> subprocess.CompletedProcess[str]:
    """Run a setup.sh with the bao CLI as the admin (root token)."""
    result = subprocess.run(
        ["bash", str(script), *args],
        env=openbao.env(VAULT=bao_binary(), **settings),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == code, result.stderr
    return result


def state(root: hvac.Client, mount: str, policy: str, auth_mount: str) -> dict[str, Any]:
    """What the scripts may change, as Vault reports it."""

    def read(path: str) -> Any:
        try:
            answer = root.read(path)
        except hvac.exceptions.InvalidPath:
            return None
        return answer["data"] if answer else None

    mounts = root.sys.list_mounted_secrets_engines()["data"]
    auths = root.sys.list_auth_methods()["data"]
    out = {
        "mount": {k: mounts.get(f"{mount}/", {}).get(k) for k in ("type", "options")},
        "auth": (auths.get(f"{auth_mount}/") or {}).get("type"),
        "policy": read(f"sys/policy/{policy}"),
        "auth_config": read(f"auth/{auth_mount}/config"),
        "roles": read(f"auth/{auth_mount}/role/rook-ceph-osd"),
        "px_role": read(f"auth/{auth_mount}/role/portworx"),
    }
    if (out["mount"]["options"] or {}).get("version") == "2":
        out["cas"] = read(f"{mount}/config")
    else:
        out["secrets"] = read(mount) if mounts.get(f"{mount}/") else None  # KV v1: a list
    return out


@dataclass
class Cluster:
    """The API double as Vault's kubernetes auth sees it."""

    emulator: kmock.RawHandler
    reviewer: TokenReviewer
    ca_file: Path

    def settings(self, **extra: str) -> dict[str, str]:
        """The kubernetes auth config a Vault outside the cluster needs (client JWT reviews)."""
        return {
            "KUBERNETES_HOST": str(self.emulator.url).rstrip("/"),
            "KUBERNETES_CA_CERT": str(self.ca_file),
            **extra,
        }


@pytest.fixture
def cluster(kmock: kmock.RawHandler, openbao: OpenBao) -> Cluster:
    reviewer = TokenReviewer()
    reviewer.install(kmock)
    # Over http the CA is not used, but an external Vault needs one to write the config.
    return Cluster(kmock, reviewer, openbao.ca_cert)


async def osd_injector(
    openbao: OpenBao,
    cluster: Cluster,
    tmp_path: Path,
    names: dict[str, str],
    *extra: str,
    namespace: str = "rook-ceph",
    account: str = "rook-ceph-osd",
    role: str = "rook-ceph-osd",
) -> tuple[Result, Path]:
    """The injector of an OSD pod: kubernetes auth as rook-ceph/rook-ceph-osd, rook layout."""
    jwt = tmp_path / f"jwt-{uuid.uuid4().hex[:6]}"
    # The webhook's projected token for the injector: audience vault (connection.tokenAudience).
    jwt.write_text(cluster.reviewer.jwt(namespace, account, audiences=("vault",)))
    out = tmp_path / f"out-{uuid.uuid4().hex[:6]}"
    out.mkdir()
    env = openbao.env(
        VAULT_AUTH_METHOD="kubernetes",
        VAULT_AUTH_KUBERNETES_ROLE=role,
        VAULT_AUTH_KUBERNETES_TOKEN_PATH=str(jwt),
        VAULT_AUTH_MOUNT_PATH=names["AUTH_MOUNT"],
        VAULT_BACKEND_PATH=names["MOUNT"],
        VSI_NAMESPACE=namespace,
        VSI_DEADLINE="10",
    )
    del env["VAULT_TOKEN"]
    args = ("--layout", "rook", "--volume", PVC, "--output-dir", str(out), *extra)
    return await run_injector_async(env, *args), out


def rook_names() -> dict[str, str]:
    return {"MOUNT": unique("rook"), "POLICY": unique("osd"), "AUTH_MOUNT": unique("k8s")}


def rooks_key() -> str:
    """A key as Rook's operator makes it: the base64 text of 128 random bytes."""
    return base64.b64encode(os.urandom(128)).decode()


# --- Rook: a fresh path, Rook's own KV v1 mount, an existing KV v2 mount ----------------------


async def test_rook_setup_on_a_fresh_path_makes_a_create_only_v2_mount_the_osd_logs_in_to(
    openbao: OpenBao, cluster: Cluster, tmp_path: Path
) -> None:
    names = rook_names()
    first = setup(openbao, ROOK_SETUP, "kubernetes", **names, **cluster.settings())
    assert f"create: kv v2 mount {names['MOUNT']}/" in first.stderr
    root = openbao.client()
    assert root.read(f"{names['MOUNT']}/config")["data"]["cas_required"] is True
    seed = tmp_path / "dmcrypt-key"
    seed.write_text(rooks_key())

    migrated, out = await osd_injector(openbao, cluster, tmp_path, names, "--seed-file", str(seed))
    again, out2 = await osd_injector(openbao, cluster, tmp_path, names)

    assert migrated.code == 0, migrated.output
    assert again.code == 0, again.output
    assert (out / "luks_key").read_text() == (out2 / "luks_key").read_text() == seed.read_text()
    assert '"outcome":"read"' in again.stderr


async def test_rook_setup_on_rooks_own_kv1_mount_writes_the_v1_policy_and_no_secret(
    openbao: OpenBao, cluster: Cluster, tmp_path: Path
) -> None:
    names = rook_names()
    root = openbao.client()
    # The Rook KMS document: `vault secrets enable -path=rook kv`, then Rook stores its keys.
    root.sys.enable_secrets_engine("kv", path=names["MOUNT"])
    stored = rooks_key()
    root.secrets.kv.v1.create_or_update_secret(KEY, {KEY: stored}, mount_point=names["MOUNT"])

    result = setup(openbao, ROOK_SETUP, "kubernetes", **names, **cluster.settings())
    login, out = await osd_injector(openbao, cluster, tmp_path, names)

    assert f"unchanged: kv v1 mount {names['MOUNT']}/" in result.stderr
    listed = root.secrets.kv.v1.list_secrets("", mount_point=names["MOUNT"])["data"]["keys"]
    assert listed == [KEY]  # no stray "config" secret
    policy = root.sys.read_policy(names["POLICY"])["data"]["rules"]
    assert f'path "{names["MOUNT"]}/rook-ceph-osd-encryption-key-*"' in policy
    assert "/data/" not in policy
    assert login.code == 0, login.output
    assert (out / "luks_key").read_text() == stored


async def test_rook_setup_on_an_existing_kv2_mount_leaves_it_writable_for_rook(
    openbao: OpenBao, cluster: Cluster, tmp_path: Path
) -> None:
    names = rook_names()
    root = openbao.client()
    root.sys.enable_secrets_engine("kv", path=names["MOUNT"], options={"version": "2"})
    stored = rooks_key()

    result = setup(openbao, ROOK_SETUP, "kubernetes", **names, **cluster.settings())
    # Rook's own KMS writes get-then-put, without cas: the mount must still take it.
    root.secrets.kv.v2.create_or_update_secret(KEY, {KEY: stored}, mount_point=names["MOUNT"])
    login, out = await osd_injector(openbao, cluster, tmp_path, names)

    assert "cas_required" not in result.stderr  # an existing mount is not reconfigured
    assert root.read(f"{names['MOUNT']}/config")["data"]["cas_required"] is False
    assert login.code == 0, login.output
    assert (out / "luks_key").read_text() == stored


def test_rook_kms_true_turns_cas_required_off_for_rooks_writes(openbao: OpenBao) -> None:
    names = rook_names()
    setup(openbao, ROOK_SETUP, "token", **names)
    root = openbao.client()
    assert root.read(f"{names['MOUNT']}/config")["data"]["cas_required"] is True

    result = setup(openbao, ROOK_SETUP, "token", ROOK_KMS="true", **names)

    assert f"update: cas_required=false on {names['MOUNT']}/" in result.stderr
    root.secrets.kv.v2.create_or_update_secret(KEY, {KEY: "x"}, mount_point=names["MOUNT"])


async def _login(
    openbao: OpenBao,
    cluster: Cluster,
    auth_mount: str,
    role: str,
    namespace: str,
    account: str,
    audiences: tuple[str, ...] = API_AUDIENCES,
) -> hvac.Client:
    """A client logged in as ``namespace/account`` with kubernetes auth role ``role`` and a JWT
    for ``audiences`` (in a thread: OpenBao reviews the JWT at the double, which answers on this
    event loop)."""
    client = hvac.Client(url=openbao.addr)
    jwt = cluster.reviewer.jwt(namespace, account, audiences=audiences)
    await asyncio.to_thread(client.auth.kubernetes.login, role, jwt, mount_point=auth_mount)
    return client


async def test_rook_kms_setup_gives_rook_its_writes_and_the_injector_reads_only(
    openbao: OpenBao, cluster: Cluster, tmp_path: Path
) -> None:
    names = {**rook_names(), "OPERATOR_POLICY": unique("rook")}
    first = setup(openbao, ROOK_SETUP, "kubernetes", ROOK_KMS="true", **names, **cluster.settings())
    mount, auth = names["MOUNT"], names["AUTH_MOUNT"]
    assert f"create: kv v2 mount {mount}/" in first.stderr
    assert f"create: policy {names['OPERATOR_POLICY']}" in first.stderr
    assert "create: role rook-ceph bound to service account " in first.stderr
    assert "create: role rook-ceph-osd-injector bound to service account " in first.stderr
    # Rook as Rook writes: its operator creates the key, a key-rotation pod (rook-ceph-osd)
    # replaces it, both without cas.
    operator = await _login(openbao, cluster, auth, "rook-ceph", "rook-ceph", "rook-ceph-system")
    rotation = await _login(openbao, cluster, auth, "rook-ceph", "rook-ceph", "rook-ceph-osd")
    operator.secrets.kv.v2.create_or_update_secret(KEY, {KEY: rooks_key()}, mount_point=mount)
    rotated = rooks_key()
    rotation.secrets.kv.v2.create_or_update_secret(KEY, {KEY: rotated}, mount_point=mount)

    read, out = await osd_injector(openbao, cluster, tmp_path, names, role="rook-ceph-osd-injector")
    injector = await _login(
        openbao, cluster, auth, "rook-ceph-osd-injector", "rook-ceph", "rook-ceph-osd", ("vault",)
    )
    with pytest.raises(hvac.exceptions.VaultError):  # the pod's API token is refused
        await _login(openbao, cluster, auth, "rook-ceph-osd-injector", "rook-ceph", "rook-ceph-osd")
    again = setup(openbao, ROOK_SETUP, "kubernetes", ROOK_KMS="true", **names, **cluster.settings())

    assert read.code == 0, read.output
    assert (out / "luks_key").read_text() == rotated  # the latest version
    with pytest.raises(hvac.exceptions.Forbidden):
        injector.secrets.kv.v2.create_or_update_secret(KEY, {KEY: "x"}, mount_point=mount)
    with pytest.raises(hvac.exceptions.Forbidden):
        injector.secrets.kv.v2.create_or_update_secret("new", {"new": "x"}, mount_point=mount)
    with pytest.raises(hvac.exceptions.Forbidden):  # Rook's role binds no other account
        await _login(openbao, cluster, auth, "rook-ceph", "rook-ceph", "default")
    assert again.stderr.strip().endswith("no changes")


def test_rook_kms_roles_bind_the_operators_own_namespace_when_it_runs_apart(
    openbao: OpenBao, cluster: Cluster
) -> None:
    names = {**rook_names(), "OPERATOR_POLICY": unique("rook")}

    setup(
        openbao,
        ROOK_SETUP,
        "kubernetes",
        ROOK_KMS="true",
        OPERATOR_NAMESPACE="rook-operator",
        **names,
        **cluster.settings(),
    )

    role = openbao.client().read(f"auth/{names['AUTH_MOUNT']}/role/rook-ceph")["data"]
    assert role["bound_service_account_names"] == ["rook-ceph-system", "rook-ceph-osd"]
    assert role["bound_service_account_namespaces"] == ["rook-operator", "rook-ceph"]
    assert role["token_policies"] == [names["OPERATOR_POLICY"]]
    injector = openbao.client().read(f"auth/{names['AUTH_MOUNT']}/role/rook-ceph-osd-injector")
    assert injector["data"]["bound_service_account_namespaces"] == ["rook-ceph"]
    assert injector["data"]["audience"] == "vault"
    assert not role.get("audience")  # Rook's own role, as Rook documents it


def test_rook_kms_tokens_are_the_injectors_read_only_one_or_rooks(openbao: OpenBao) -> None:
    names = {**rook_names(), "OPERATOR_POLICY": unique("rook")}
    root = openbao.client()

    injector = setup(openbao, ROOK_SETUP, "token", ROOK_KMS="true", **names).stdout.strip()
    rook = setup(openbao, ROOK_SETUP, "token", ROOK_KMS="true", TOKEN_FOR="rook", **names)
    refused = setup(openbao, ROOK_SETUP, "token", ROOK_KMS="true", TOKEN_FOR="x", code=2, **names)

    assert root.auth.token.lookup(injector)["data"]["policies"] == ["default", names["POLICY"]]
    rook_policies = root.auth.token.lookup(rook.stdout.strip())["data"]["policies"]
    assert rook_policies == ["default", names["OPERATOR_POLICY"]]
    assert refused.stdout == ""
    assert "TOKEN_FOR must be injector or rook" in refused.stderr


def test_a_second_run_reports_no_change_and_leaves_vault_as_it_was(
    openbao: OpenBao, cluster: Cluster, tmp_path: Path
) -> None:
    names = rook_names()
    reviewer_jwt = tmp_path / "reviewer.jwt"
    reviewer_jwt.write_text(cluster.reviewer.jwt("vault-storage-injector", "vault-token-reviewer"))
    settings = cluster.settings(TOKEN_REVIEWER_JWT=str(reviewer_jwt), ISSUER="https://k8s")
    setup(openbao, ROOK_SETUP, "kubernetes", **names, **settings)
    root = openbao.client()
    before = state(root, names["MOUNT"], names["POLICY"], names["AUTH_MOUNT"])

    again = setup(openbao, ROOK_SETUP, "kubernetes", **names, **settings)

    assert again.stderr.rstrip().endswith("setup.sh: no changes"), again.stderr
    assert " create: " not in again.stderr
    assert " update: " not in again.stderr
    assert state(root, names["MOUNT"], names["POLICY"], names["AUTH_MOUNT"]) == before


def test_dry_run_prints_what_it_would_change_and_changes_nothing(openbao: OpenBao) -> None:
    names = rook_names()
    root = openbao.client()
    before = state(root, names["MOUNT"], names["POLICY"], names["AUTH_MOUNT"])

    result = setup(openbao, ROOK_SETUP, "--dry-run", "kubernetes", **names)

    assert state(root, names["MOUNT"], names["POLICY"], names["AUTH_MOUNT"]) == before
    assert f"would create: kv v2 mount {names['MOUNT']}/" in result.stderr
    assert f"would create: policy {names['POLICY']}" in result.stderr
    assert "would create: role rook-ceph-osd bound to service account rook-ceph/rook-ceph-osd" in (
        result.stderr
    )
    assert result.stdout == ""


def test_dry_run_of_a_token_mints_nothing(openbao: OpenBao) -> None:
    names = rook_names()
    setup(openbao, ROOK_SETUP, "token", **names)
    result = setup(openbao, ROOK_SETUP, "--dry-run", "token", **names)
    assert result.stdout == ""
    assert "would mint: a periodic token" in result.stderr


# --- point 7: the KV v2 create-only policy is enough for the injector --------------------------


def test_kv2_create_only_policy_creates_once_and_never_replaces(openbao: OpenBao) -> None:
    names = rook_names()
    token = setup(openbao, ROOK_SETUP, "token", **names).stdout.strip()
    policy = openbao.client().sys.read_policy(names["POLICY"])["data"]["rules"]
    assert '"create", "read"]' in policy
    assert "update" not in policy.split("capabilities")[1]
    kv = openbao.client(token=token).secrets.kv.v2
    mount = names["MOUNT"]

    kv.create_or_update_secret(path=KEY, secret={KEY: "first"}, cas=0, mount_point=mount)
    # Vault asks for "update" on any write to an existing key: refused with cas and without.
    with pytest.raises(hvac.exceptions.Forbidden):
        kv.create_or_update_secret(path=KEY, secret={KEY: "second"}, cas=0, mount_point=mount)
    with pytest.raises(hvac.exceptions.Forbidden):
        kv.create_or_update_secret(path=KEY, secret={KEY: "third"}, mount_point=mount)
    read = kv.read_secret_version(path=KEY, mount_point=mount, raise_on_deleted_version=True)
    assert read["data"]["data"] == {KEY: "first"}
    with pytest.raises(hvac.exceptions.Forbidden):  # nothing but the OSD keys
        kv.create_or_update_secret(path="other", secret={"k": "v"}, cas=0, mount_point=mount)


def test_racing_injectors_under_the_create_only_kv2_policy_all_get_the_one_key(
    openbao: OpenBao, tmp_path: Path
) -> None:
    """Without "update" the losers of the cas=0 race get 403, re-read and use the winner's key."""
    names = rook_names()
    token = setup(openbao, ROOK_SETUP, "token", **names).stdout.strip()
    # The volume-keys layout needs its own path in the policy; the rook layout cannot race
    # (it never invents a key), so both layouts' creates go through the same cas=0 write.
    root = openbao.client()
    rules = root.sys.read_policy(names["POLICY"])["data"]["rules"]
    root.sys.create_or_update_policy(
        names["POLICY"], rules.replace("rook-ceph-osd-encryption-key-*", "vault-storage-injector/*")
    )
    env = openbao.env(VAULT_TOKEN=token, VAULT_BACKEND_PATH=names["MOUNT"], VSI_NAMESPACE="ns")
    outs = [tmp_path / f"out{i}" for i in range(8)]
    for out in outs:
        out.mkdir()
    procs = [
        start_injector(env, "--layout", "volume-keys", "--volume", "vol", "--output-dir", out)
        for out in outs
    ]
    results = [(p.wait(timeout=60), p.communicate()[1]) for p in procs]

    assert [code for code, _ in results] == [0] * 8, results
    keys = {(out / "vol").read_bytes() for out in outs}
    assert len(keys) == 1
    meta = root.secrets.kv.v2.read_secret_metadata(
        path="vault-storage-injector/ns/vol", mount_point=names["MOUNT"]
    )
    assert meta["data"]["current_version"] == 1


def test_a_soft_deleted_key_is_refused_under_the_create_only_policy(
    openbao: OpenBao, tmp_path: Path
) -> None:
    """The data read reports a deletion by itself: the policy needs no metadata grant."""
    names = rook_names()
    token = setup(openbao, ROOK_SETUP, "token", **names).stdout.strip()
    root = openbao.client()
    root.secrets.kv.v2.create_or_update_secret(KEY, {KEY: "k"}, cas=0, mount_point=names["MOUNT"])
    root.secrets.kv.v2.delete_latest_version_of_secret(KEY, mount_point=names["MOUNT"])
    out = tmp_path / "out"
    out.mkdir()
    env = openbao.env(VAULT_TOKEN=token, VAULT_BACKEND_PATH=names["MOUNT"], VSI_NAMESPACE="ns")

    result = run_injector(env, "--layout", "rook", "--volume", PVC, "--output-dir", out)

    assert result.code == 1
    assert "soft-deleted" in result.stderr
    assert list(out.iterdir()) == []


def test_rook_kv1_policy_is_create_only(openbao: OpenBao) -> None:
    names = rook_names()
    token = setup(openbao, ROOK_SETUP, "token", KV_VERSION="1", **names).stdout.strip()
    kv = openbao.client(token=token).secrets.kv.v1

    kv.create_or_update_secret(path=KEY, secret={KEY: "first"}, mount_point=names["MOUNT"])
    with pytest.raises(hvac.exceptions.Forbidden):
        kv.create_or_update_secret(path=KEY, secret={KEY: "second"}, mount_point=names["MOUNT"])
    assert kv.read_secret(path=KEY, mount_point=names["MOUNT"])["data"] == {KEY: "first"}


# --- Portworx: each install path's service account ---------------------------------------------


@pytest.mark.parametrize(
    ("install", "account"),
    [("operator", ("portworx", "portworx")), ("daemonset", ("kube-system", "px-account"))],
)
def test_portworx_setup_binds_the_service_account_of_each_install_path(
    openbao: OpenBao, install: str, account: tuple[str, str]
) -> None:
    names = {"MOUNT": unique("px"), "POLICY": unique("px"), "AUTH_MOUNT": unique("k8s")}
    setup(openbao, PORTWORX_SETUP, "kubernetes", PX_INSTALL=install, **names)
    role = openbao.client().read(f"auth/{names['AUTH_MOUNT']}/role/portworx")["data"]
    assert role["bound_service_account_namespaces"] == [account[0]]
    assert role["bound_service_account_names"] == [account[1]]
    assert role["token_policies"] == [names["POLICY"]]


async def test_portworx_daemonset_account_logs_in_and_manages_its_keys(
    openbao: OpenBao, cluster: Cluster, tmp_path: Path
) -> None:
    names = {"MOUNT": unique("px"), "POLICY": unique("px"), "AUTH_MOUNT": unique("k8s")}
    setup(
        openbao,
        PORTWORX_SETUP,
        "kubernetes",
        PX_INSTALL="daemonset",
        **names,
        **cluster.settings(),
    )
    root = openbao.client()
    assert root.read(f"{names['MOUNT']}/config")["data"]["cas_required"] is False

    def as_portworx() -> None:
        # In a thread: Vault's TokenReview goes to the double on this test's event loop.
        login = hvac.Client(url=openbao.addr)
        jwt = cluster.reviewer.jwt("kube-system", "px-account")
        login.auth.kubernetes.login("portworx", jwt, mount_point=names["AUTH_MOUNT"])
        kv = login.secrets.kv.v2
        # Portworx writes, overwrites and deletes its own keys, without cas.
        kv.create_or_update_secret(path="pwx/vol1", secret={"k": "a"}, mount_point=names["MOUNT"])
        kv.create_or_update_secret(path="pwx/vol1", secret={"k": "b"}, mount_point=names["MOUNT"])
        read = kv.read_secret_version(
            path="pwx/vol1", mount_point=names["MOUNT"], raise_on_deleted_version=True
        )
        assert read["data"]["data"] == {"k": "b"}
        kv.delete_metadata_and_all_versions(path="pwx/vol1", mount_point=names["MOUNT"])
        # Another service account of the same namespace is not bound.
        other = cluster.reviewer.jwt("kube-system", "default")
        with pytest.raises(hvac.exceptions.Forbidden, match="not authorized"):
            hvac.Client(url=openbao.addr).auth.kubernetes.login(
                "portworx", other, mount_point=names["AUTH_MOUNT"]
            )

    await asyncio.to_thread(as_portworx)


def test_portworx_setup_dry_run_changes_nothing_and_a_second_run_reports_no_change(
    openbao: OpenBao,
) -> None:
    names = {"MOUNT": unique("px"), "POLICY": unique("px"), "AUTH_MOUNT": unique("k8s")}
    root = openbao.client()
    empty = state(root, names["MOUNT"], names["POLICY"], names["AUTH_MOUNT"])

    dry = setup(openbao, PORTWORX_SETUP, "--dry-run", "kubernetes", PX_INSTALL="daemonset", **names)
    assert state(root, names["MOUNT"], names["POLICY"], names["AUTH_MOUNT"]) == empty
    assert "would create: role portworx bound to service account kube-system/px-account" in (
        dry.stderr
    )
    setup(openbao, PORTWORX_SETUP, "kubernetes", PX_INSTALL="daemonset", **names)
    made = state(root, names["MOUNT"], names["POLICY"], names["AUTH_MOUNT"])
    again = setup(openbao, PORTWORX_SETUP, "kubernetes", PX_INSTALL="daemonset", **names)

    assert made != empty
    assert again.stderr.rstrip().endswith("setup.sh: no changes"), again.stderr
    assert state(root, names["MOUNT"], names["POLICY"], names["AUTH_MOUNT"]) == made


def test_setup_refuses_an_unknown_argument_or_setting(openbao: OpenBao) -> None:
    result = setup(openbao, ROOK_SETUP, "ldap", code=2)
    assert "usage: setup.sh [--dry-run] kubernetes|token" in result.stderr
    result = setup(openbao, PORTWORX_SETUP, "kubernetes", PX_INSTALL="helm", code=2)
    assert "PX_INSTALL must be operator or daemonset" in result.stderr


def test_an_existing_mount_of_another_engine_stops_the_script(openbao: OpenBao) -> None:
    names = rook_names()
    openbao.client().sys.enable_secrets_engine("transit", path=names["MOUNT"])
    result = setup(openbao, ROOK_SETUP, "token", code=1, **names)
    assert f"{names['MOUNT']}/ is a transit mount, not kv" in result.stderr
    assert result.stdout == ""

"""The volume-keys Vault setup (issue 22 item 1): per-namespace key isolation that OpenBao enforces.

``setup.sh kubernetes`` against a real OpenBao, kubernetes auth through the TokenReview double
(which applies the API server's audience rule), then the real ``vsi-injector`` process and hvac
with the very token it would get: namespace A's injector creates and reads A's keys; B's token
reaches none of them, forged ``--namespace`` or not; a namespace outside NAMESPACES and a token
for the API server's audience cannot log in; a second run changes nothing; ``--dry-run`` nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import hvac
import hvac.exceptions
import kmock
import pytest

from demo.openbao import OpenBao
from doubles.tokenreview import API_AUDIENCES, TokenReviewer
from tests.integration.injector.conftest import Result, run_injector_async
from tests.integration.manifests.conftest import MANIFESTS
from tests.integration.manifests.test_vault_setup import Cluster, setup, state, unique

SETUP = MANIFESTS / "examples/volume-keys/vault/setup.sh"
PVC = "data-0"
pytestmark = pytest.mark.kmock(cls=kmock.RawHandler)


@pytest.fixture
def cluster(kmock: kmock.RawHandler, openbao: OpenBao) -> Cluster:
    reviewer = TokenReviewer()
    reviewer.install(kmock)
    return Cluster(kmock, reviewer, openbao.ca_cert)


def _names() -> dict[str, str]:
    return {
        "MOUNT": unique("vk"),
        "POLICY": unique("vsi"),
        "ROLE": unique("vsi"),
        "AUTH_MOUNT": unique("k8s"),
    }


async def _injector(
    openbao: OpenBao,
    cluster: Cluster,
    tmp_path: Path,
    names: dict[str, str],
    account_namespace: str,
    *,
    namespace: str | None = None,
    audiences: tuple[str, ...] = ("vault",),
) -> tuple[Result, Path]:
    """vsi-injector of a pod of ``account_namespace`` (its JWT), told ``namespace``."""
    jwt = tmp_path / f"jwt-{uuid.uuid4().hex[:6]}"
    jwt.write_text(cluster.reviewer.jwt(account_namespace, "app", audiences=audiences))
    out = tmp_path / f"out-{uuid.uuid4().hex[:6]}"
    out.mkdir()
    env = openbao.env(
        VAULT_AUTH_METHOD="kubernetes",
        VAULT_AUTH_KUBERNETES_ROLE=names["ROLE"],
        VAULT_AUTH_KUBERNETES_TOKEN_PATH=str(jwt),
        VAULT_AUTH_MOUNT_PATH=names["AUTH_MOUNT"],
        VAULT_BACKEND_PATH=names["MOUNT"],
        VSI_NAMESPACE=namespace or account_namespace,
        VSI_DEADLINE="10",
    )
    del env["VAULT_TOKEN"]
    args = ("--layout", "volume-keys", "--volume", PVC, "--output-dir", str(out))
    return await run_injector_async(env, *args), out


async def _login(
    openbao: OpenBao, cluster: Cluster, names: dict[str, str], jwt: str
) -> hvac.Client:
    """An hvac client logged in with ``jwt``, as the pod could (in a thread: the TokenReview
    double answers on this event loop)."""
    client = hvac.Client(url=openbao.addr)
    await asyncio.to_thread(
        client.auth.kubernetes.login, names["ROLE"], jwt, mount_point=names["AUTH_MOUNT"]
    )
    return client


def _vault_jwt(cluster: Cluster, namespace: str) -> str:
    return cluster.reviewer.jwt(namespace, "app", audiences=("vault",))


async def test_a_namespace_reaches_only_its_own_keys_whatever_it_claims(
    openbao: OpenBao, cluster: Cluster, tmp_path: Path
) -> None:
    names = _names()
    first = setup(
        openbao, SETUP, "kubernetes", NAMESPACES="team-a,team-b", **names, **cluster.settings()
    )
    assert f"create: role {names['ROLE']}" in first.stderr

    made, out = await _injector(openbao, cluster, tmp_path, names, "team-a")
    again, out2 = await _injector(openbao, cluster, tmp_path, names, "team-a")
    forged, forged_out = await _injector(
        openbao, cluster, tmp_path, names, "team-b", namespace="team-a"
    )
    own, _ = await _injector(openbao, cluster, tmp_path, names, "team-b")

    assert made.code == 0, made.output
    assert again.code == 0, again.output
    assert (out / PVC).read_bytes() == (out2 / PVC).read_bytes()
    assert len((out / PVC).read_bytes()) == 32
    assert forged.code == 1, forged.output
    assert "403" in forged.output or "permission denied" in forged.output
    assert list(forged_out.iterdir()) == []
    assert own.code == 0, own.output  # B's own keys: its namespace, its path

    # B's Vault token itself (no injector at all) neither reads nor creates A's keys.
    b_client = await _login(openbao, cluster, names, _vault_jwt(cluster, "team-b"))
    key = f"vault-storage-injector/team-a/{PVC}"
    with pytest.raises(hvac.exceptions.Forbidden):
        b_client.secrets.kv.v2.read_secret_version(
            key, mount_point=names["MOUNT"], raise_on_deleted_version=True
        )
    with pytest.raises(hvac.exceptions.Forbidden):
        b_client.secrets.kv.v2.create_or_update_secret(
            "vault-storage-injector/team-a/other", {"key": "x"}, cas=0, mount_point=names["MOUNT"]
        )
    a_client = await _login(openbao, cluster, names, _vault_jwt(cluster, "team-a"))
    stored = a_client.secrets.kv.v2.read_secret_version(
        key, mount_point=names["MOUNT"], raise_on_deleted_version=True
    )
    assert stored["data"]["data"]["key"]
    # Every review Vault made asked for the role's audience (the API server's rule applied).
    assert cluster.reviewer.asked
    assert set(cluster.reviewer.asked) == {("vault",)}


async def test_outsiders_and_api_audience_tokens_cannot_log_in(
    openbao: OpenBao, cluster: Cluster, tmp_path: Path
) -> None:
    names = _names()
    setup(openbao, SETUP, "kubernetes", NAMESPACES="team-a", **names, **cluster.settings())

    outsider, _ = await _injector(openbao, cluster, tmp_path, names, "team-c")
    api_token, _ = await _injector(
        openbao, cluster, tmp_path, names, "team-a", audiences=API_AUDIENCES
    )

    assert outsider.code == 1, outsider.output
    assert api_token.code == 1, api_token.output
    # OpenBao refuses both before any review (it checks the namespace and the aud claim).
    assert cluster.reviewer.asked == []
    with pytest.raises(hvac.exceptions.VaultError):
        await _login(openbao, cluster, names, cluster.reviewer.jwt("team-a", "app"))


def test_a_second_run_changes_nothing_and_a_dry_run_changes_nothing(
    openbao: OpenBao, cluster: Cluster
) -> None:
    names = _names()
    settings = {"NAMESPACES": "team-a", **names, **cluster.settings()}
    root = openbao.client()
    before = state(root, names["MOUNT"], names["POLICY"], names["AUTH_MOUNT"])
    dry = setup(openbao, SETUP, "--dry-run", "kubernetes", **settings)
    assert "would create: policy" in dry.stderr
    assert state(root, names["MOUNT"], names["POLICY"], names["AUTH_MOUNT"]) == before

    setup(openbao, SETUP, "kubernetes", **settings)
    after = state(root, names["MOUNT"], names["POLICY"], names["AUTH_MOUNT"])
    second = setup(openbao, SETUP, "kubernetes", **settings)

    assert second.stderr.rstrip().endswith("setup.sh: no changes"), second.stderr
    assert state(root, names["MOUNT"], names["POLICY"], names["AUTH_MOUNT"]) == after
    accessor = root.sys.list_auth_methods()["data"][f"{names['AUTH_MOUNT']}/"]["accessor"]
    policy = root.sys.read_policy(names["POLICY"])["data"]["rules"]
    assert f"identity.entity.aliases.{accessor}.metadata.service_account_namespace" in policy
    role = root.read(f"auth/{names['AUTH_MOUNT']}/role/{names['ROLE']}")["data"]
    assert role["audience"] == "vault"
    assert role["bound_service_account_namespaces"] == ["team-a"]


def test_without_namespaces_it_says_so_in_one_line_and_exits_2(openbao: OpenBao) -> None:
    result = setup(openbao, SETUP, "kubernetes", code=2, **_names())
    assert result.stderr.strip().splitlines() == [
        "setup.sh: NAMESPACES is required: the comma-separated namespaces whose pods may log in"
    ]


def test_token_mode_serves_one_namespace_with_a_literal_policy(openbao: OpenBao) -> None:
    names = _names()
    refused = setup(openbao, SETUP, "token", code=2, NAMESPACES="team-a,team-b", **names)
    assert "one namespace in token mode" in refused.stderr
    minted = setup(openbao, SETUP, "token", NAMESPACES="team-a", **names)
    client = hvac.Client(url=openbao.addr, token=minted.stdout.strip())
    mount = names["MOUNT"]
    client.secrets.kv.v2.create_or_update_secret(
        f"vault-storage-injector/team-a/{PVC}", {"key": "k"}, cas=0, mount_point=mount
    )
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.create_or_update_secret(
            f"vault-storage-injector/team-b/{PVC}", {"key": "k"}, cas=0, mount_point=mount
        )

"""A Vault outside the cluster (the external-Vault document): the token-reviewer component and
the kubernetes auth config setup.sh writes, checked by logging in through the TokenReview double.

The double lets only the service accounts the component binds to ``system:auth-delegator``
review tokens, as the apiserver would, and records which token each review came with.
"""

from __future__ import annotations

from pathlib import Path

import kmock
import pytest

from demo.openbao import OpenBao
from doubles.tokenreview import ISSUER, TokenReviewer, reviewers
from tests.integration.manifests.conftest import MANIFESTS, WEBHOOK_NAMESPACE, Obj, find, kustomize
from tests.integration.manifests.test_vault_setup import (
    ROOK_SETUP,
    Cluster,
    osd_injector,
    rook_names,
    rooks_key,
    setup,
)

pytestmark = pytest.mark.kmock(cls=kmock.RawHandler)
NAME = "vault-storage-injector-token-reviewer"


@pytest.fixture(scope="module")
def component() -> list[Obj]:
    return kustomize(MANIFESTS / "examples/external-vault")


@pytest.fixture
def cluster(kmock: kmock.RawHandler, openbao: OpenBao, component: list[Obj]) -> Cluster:
    """The API double, where the component's bindings decide who may review tokens."""
    bound = {
        (s["namespace"], s["name"])
        for o in component
        if o["kind"] == "ClusterRoleBinding" and o["roleRef"]["name"] == "system:auth-delegator"
        for s in o["subjects"]
    }
    reviewer = TokenReviewer(delegators=bound)
    reviewer.install(kmock)
    return Cluster(kmock, reviewer, openbao.ca_cert)


def test_the_component_makes_a_reviewer_with_a_long_lived_token(component: list[Obj]) -> None:
    account = find(component, "ServiceAccount", NAME, WEBHOOK_NAMESPACE)
    assert account["automountServiceAccountToken"] is False
    binding = find(component, "ClusterRoleBinding", NAME)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "system:auth-delegator",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": NAME, "namespace": WEBHOOK_NAMESPACE}
    ]
    secret = find(component, "Secret", NAME, WEBHOOK_NAMESPACE)
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert secret["metadata"]["annotations"] == {"kubernetes.io/service-account.name": NAME}
    assert "data" not in secret  # the token controller fills it in


def _reviewer_token(cluster: Cluster, component: list[Obj], tmp_path: Path) -> tuple[str, Path]:
    """What the token controller puts in the component's Secret, saved as an admin would."""
    secret = find(component, "Secret", NAME, WEBHOOK_NAMESPACE)
    account = secret["metadata"]["annotations"]["kubernetes.io/service-account.name"]
    jwt = cluster.reviewer.jwt(secret["metadata"]["namespace"], account)
    path = tmp_path / "reviewer.jwt"
    path.write_text(jwt)
    path.chmod(0o600)
    return jwt, path


async def test_vault_outside_the_cluster_reviews_tokens_with_the_reviewer_jwt(
    openbao: OpenBao, cluster: Cluster, component: list[Obj], tmp_path: Path
) -> None:
    reviewer_jwt, path = _reviewer_token(cluster, component, tmp_path)
    names = rook_names()
    result = setup(
        openbao,
        ROOK_SETUP,
        "kubernetes",
        **names,
        **cluster.settings(TOKEN_REVIEWER_JWT=str(path), ISSUER=ISSUER),
    )
    seed = tmp_path / "dmcrypt-key"
    seed.write_text(rooks_key())

    login, out = await osd_injector(openbao, cluster, tmp_path, names, "--seed-file", str(seed))

    assert login.code == 0, login.output
    assert (out / "luks_key").read_text() == seed.read_text()
    assert reviewers(cluster.emulator) == [reviewer_jwt]
    assert reviewer_jwt not in result.stderr + result.stdout
    config = openbao.client().read(f"auth/{names['AUTH_MOUNT']}/config")["data"]
    assert config["kubernetes_host"] == str(cluster.emulator.url).rstrip("/")
    assert config["kubernetes_ca_cert"].strip() == cluster.ca_file.read_text().strip()
    assert (config["issuer"], config["disable_iss_validation"]) == (ISSUER, False)
    assert config["token_reviewer_jwt_set"] is True


async def test_a_token_from_another_issuer_is_refused_when_the_issuer_is_set(
    openbao: OpenBao, cluster: Cluster, component: list[Obj], tmp_path: Path
) -> None:
    _, path = _reviewer_token(cluster, component, tmp_path)
    names = rook_names()
    settings = cluster.settings(TOKEN_REVIEWER_JWT=str(path), ISSUER="https://other.example")
    setup(openbao, ROOK_SETUP, "kubernetes", **names, **settings)

    login, out = await osd_injector(openbao, cluster, tmp_path, names)

    assert login.code == 1
    assert f"kubernetes login (role 'rook-ceph-osd', mount '{names['AUTH_MOUNT']}')" in (
        login.stderr
    )
    assert list(out.iterdir()) == []


async def test_without_a_reviewer_jwt_each_client_reviews_its_own_token(
    openbao: OpenBao, cluster: Cluster, tmp_path: Path
) -> None:
    """The other way the document allows: no long-lived token in Vault, but then every client's
    service account must be bound to system:auth-delegator itself."""
    names = rook_names()
    setup(openbao, ROOK_SETUP, "kubernetes", **names, **cluster.settings())
    assert cluster.reviewer.delegators is not None

    denied, _ = await osd_injector(openbao, cluster, tmp_path, names)
    cluster.reviewer.delegators.add(("rook-ceph", "rook-ceph-osd"))
    seed = tmp_path / "dmcrypt-key"
    seed.write_text(rooks_key())
    allowed, out = await osd_injector(openbao, cluster, tmp_path, names, "--seed-file", str(seed))

    assert denied.code == 1  # the OSD's account may not review tokens yet
    assert allowed.code == 0, allowed.output
    assert (out / "luks_key").read_text() == seed.read_text()
    clients = reviewers(cluster.emulator)
    assert len(clients) == 2
    assert all(cluster.reviewer.known[jwt][:2] == ("rook-ceph", "rook-ceph-osd") for jwt in clients)

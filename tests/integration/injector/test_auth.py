"""Auth against the real OpenBao: AppRole, Kubernetes (TokenReview from kmock), re-login."""

from __future__ import annotations

from pathlib import Path

import hvac
import kmock

from demo.openbao import OpenBao
from injector.settings.vault_env import parse_vault
from injector.vault.schemas import Endpoint, Kv2Secret
from injector.vault.session import Deadline, VaultSession
from tests.integration.injector.auth_support import (
    FAKE_JWT,
    TOKEN_REVIEWS,
    approle,
    bound_role,
    create_read_policy,
    kubernetes_auth,
    kubernetes_env,
)
from tests.integration.injector.conftest import (
    Result,
    enable_kv,
    run_injector_async,
    stored_volume_key,
)


def test_approle_login_fetches_the_key(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path
) -> None:
    from tests.integration.injector.conftest import run_injector

    mount = enable_kv(root_client, 2)
    role = approle(root_client, "injector", create_read_policy(root_client, f"{mount}/*"))
    env = role.env(openbao, VAULT_BACKEND_PATH=mount, VSI_NAMESPACE="ns")

    result = run_injector(
        env, "--layout", "volume-keys", "--volume", "vol", "--output-dir", out_dir
    )

    assert result.code == 0, result.output
    assert (out_dir / "vol").read_bytes() == stored_volume_key(root_client, mount, 2, "ns", "vol")
    assert role.secret_id not in result.output


def test_a_policy_denial_is_reported_without_spending_a_login(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path
) -> None:
    """A 403 from the policy is not a rejected token: no re-login (the secret_id has one use)."""
    from tests.integration.injector.conftest import run_injector

    mount = enable_kv(root_client, 2)
    policy = create_read_policy(root_client, f"{mount}/data/elsewhere/*")
    role = approle(root_client, "once", policy, secret_id_num_uses=1)
    env = role.env(openbao, VAULT_BACKEND_PATH=mount, VAULT_BACKEND="kv-v2", VSI_NAMESPACE="ns")

    result = run_injector(
        env, "--layout", "volume-keys", "--volume", "vol", "--output-dir", out_dir
    )

    assert result.code == 1
    assert (
        f"reading {mount}/data/vault-storage-injector/ns/vol: Vault answered 403" in result.stderr
    )
    assert "permission denied" in result.stderr
    assert "login" not in result.stderr
    assert list(out_dir.iterdir()) == []


def test_session_logs_in_again_once_when_its_token_is_revoked_mid_run(
    openbao: OpenBao, root_client: hvac.Client
) -> None:
    mount = enable_kv(root_client, 2)
    role = approle(root_client, "r", create_read_policy(root_client, f"{mount}/*"))
    root_client.secrets.kv.v2.create_or_update_secret("probe", {"v": "1"}, mount_point=mount)
    settings = parse_vault(role.env(openbao), Path("/nonexistent"))
    session = VaultSession(settings, Deadline(10))
    session.login()
    first_token = session.token
    root_client.auth.token.revoke(first_token)

    answer = session.call(Endpoint.KV2_READ, "GET", f"{mount}/data/probe", what="reading probe")

    assert isinstance(answer.value, Kv2Secret)
    assert answer.value.data == {"v": "1"}
    assert session.token not in (None, first_token)
    session.close()


async def _inject_with_jwt(
    openbao: OpenBao, tmp_path: Path, jwt: str, auth_mount: str, **extra: str
) -> tuple[Result, Path]:
    """Run the injector as a process with kubernetes auth and ``jwt`` as the token file.

    Async, because the API double answers on this test's event loop.
    """
    jwt_file = tmp_path / "token"
    jwt_file.write_text(jwt)
    out_dir = tmp_path / "keys"
    out_dir.mkdir()
    env = kubernetes_env(openbao, jwt_file, auth_mount, VSI_NAMESPACE="ns", **extra)
    args = ("--layout", "volume-keys", "--volume", "vol", "--output-dir", str(out_dir))
    return await run_injector_async(env, *args), out_dir


async def test_kubernetes_login_through_a_token_review_double(
    openbao: OpenBao, root_client: hvac.Client, tmp_path: Path, kmock: kmock.KubernetesEmulator
) -> None:
    mount = enable_kv(root_client, 2)
    policy = create_read_policy(root_client, f"{mount}/*")
    auth_mount = kubernetes_auth(openbao, root_client, kmock, bound_role(policy))

    result, out_dir = await _inject_with_jwt(
        openbao, tmp_path, FAKE_JWT, auth_mount, VAULT_BACKEND_PATH=mount
    )

    assert result.code == 0, result.output
    assert (out_dir / "vol").read_bytes() == stored_volume_key(root_client, mount, 2, "ns", "vol")
    reviews = list(kmock[TOKEN_REVIEWS])
    assert len(reviews) == 1
    assert FAKE_JWT not in result.output


async def test_kubernetes_login_rejected_by_the_token_review_fails_closed(
    openbao: OpenBao, root_client: hvac.Client, tmp_path: Path, kmock: kmock.KubernetesEmulator
) -> None:
    auth_mount = kubernetes_auth(
        openbao,
        root_client,
        kmock,
        {"bound_service_account_names": ["*"], "bound_service_account_namespaces": ["*"]},
    )
    rejected = FAKE_JWT[:-4] + "AAAA"

    result, out_dir = await _inject_with_jwt(
        openbao, tmp_path, rejected, auth_mount, VSI_DEADLINE="3"
    )

    assert result.code == 1
    assert f"kubernetes login (role 'osd', mount '{auth_mount}')" in result.stderr
    assert list(out_dir.iterdir()) == []

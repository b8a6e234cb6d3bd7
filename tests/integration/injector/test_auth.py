"""Auth against the real OpenBao: AppRole, Kubernetes (TokenReview from kmock), re-login."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import hvac
import kmock

from demo.openbao import OpenBao
from injector.env import parse_vault
from injector.replies import Endpoint, Kv2Secret
from injector.vault import Deadline, VaultSession
from tests.integration.injector.conftest import (
    Result,
    enable_kv,
    run_injector_async,
    stored_volume_key,
    unique,
)

SERVICE_ACCOUNT = ("storage", "osd-injector")
SA_UID = "0b5b6f1e-5a37-4c55-9d0f-3f1b2b9d6c11"


def _b64url(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# JWT-shaped, with the claims a projected service-account token carries; the double validates it.
FAKE_JWT = ".".join(
    [
        _b64url({"alg": "RS256", "kid": "test"}),
        _b64url(
            {
                "iss": "https://kubernetes.default.svc",
                "sub": f"system:serviceaccount:{SERVICE_ACCOUNT[0]}:{SERVICE_ACCOUNT[1]}",
                "kubernetes.io": {
                    "namespace": SERVICE_ACCOUNT[0],
                    "serviceaccount": {"name": SERVICE_ACCOUNT[1], "uid": SA_UID},
                },
            }
        ),
        _b64url("signature"),
    ]
)


def test_approle_login_fetches_the_key(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path
) -> None:
    from tests.integration.injector.conftest import run_injector

    mount, auth_mount = enable_kv(root_client, 2), unique("approle")
    root_client.sys.enable_auth_method("approle", path=auth_mount)
    policy = unique("pol")
    root_client.sys.create_or_update_policy(
        policy, f'path "{mount}/*" {{ capabilities = ["create", "read"] }}'
    )
    root_client.auth.approle.create_or_update_approle(
        "injector", token_policies=[policy], mount_point=auth_mount
    )
    role_id = root_client.auth.approle.read_role_id("injector", mount_point=auth_mount)["data"][
        "role_id"
    ]
    secret_id = root_client.auth.approle.generate_secret_id("injector", mount_point=auth_mount)[
        "data"
    ]["secret_id"]
    env = openbao.env(
        VAULT_AUTH_METHOD="approle",
        VAULT_APPROLE_ROLE_ID=role_id,
        VAULT_APPROLE_SECRET_ID=secret_id,
        VAULT_AUTH_MOUNT_PATH=auth_mount,
        VAULT_BACKEND_PATH=mount,
        VSI_NAMESPACE="ns",
    )
    del env["VAULT_TOKEN"]

    result = run_injector(
        env, "--layout", "volume-keys", "--volume", "vol", "--output-dir", out_dir
    )

    assert result.code == 0, result.output
    assert (out_dir / "vol").read_bytes() == stored_volume_key(root_client, mount, 2, "ns", "vol")
    assert secret_id not in result.output


def test_a_policy_denial_is_reported_without_spending_a_login(
    openbao: OpenBao, root_client: hvac.Client, out_dir: Path
) -> None:
    """A 403 from the policy is not a rejected token: no re-login (the secret_id has one use)."""
    from tests.integration.injector.conftest import run_injector

    mount, auth_mount = enable_kv(root_client, 2), unique("approle")
    root_client.sys.enable_auth_method("approle", path=auth_mount)
    policy = unique("pol")
    root_client.sys.create_or_update_policy(
        policy, f'path "{mount}/data/elsewhere/*" {{ capabilities = ["create", "read"] }}'
    )
    root_client.auth.approle.create_or_update_approle(
        "once", token_policies=[policy], secret_id_num_uses=1, mount_point=auth_mount
    )
    role_id = root_client.auth.approle.read_role_id("once", mount_point=auth_mount)["data"][
        "role_id"
    ]
    secret_id = root_client.auth.approle.generate_secret_id("once", mount_point=auth_mount)["data"][
        "secret_id"
    ]
    env = openbao.env(
        VAULT_AUTH_METHOD="approle",
        VAULT_APPROLE_ROLE_ID=role_id,
        VAULT_APPROLE_SECRET_ID=secret_id,
        VAULT_AUTH_MOUNT_PATH=auth_mount,
        VAULT_BACKEND_PATH=mount,
        VAULT_BACKEND="kv-v2",
        VSI_NAMESPACE="ns",
    )
    del env["VAULT_TOKEN"]

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
    mount, auth_mount = enable_kv(root_client, 2), unique("approle")
    root_client.sys.enable_auth_method("approle", path=auth_mount)
    policy = unique("pol")
    root_client.sys.create_or_update_policy(
        policy, f'path "{mount}/*" {{ capabilities = ["create", "read"] }}'
    )
    root_client.auth.approle.create_or_update_approle(
        "r", token_policies=[policy], mount_point=auth_mount
    )
    role_id = root_client.auth.approle.read_role_id("r", mount_point=auth_mount)["data"]["role_id"]
    secret_id = root_client.auth.approle.generate_secret_id("r", mount_point=auth_mount)["data"][
        "secret_id"
    ]
    root_client.secrets.kv.v2.create_or_update_secret("probe", {"v": "1"}, mount_point=mount)
    settings = parse_vault(
        {
            "VAULT_ADDR": openbao.addr,
            "VAULT_AUTH_METHOD": "approle",
            "VAULT_APPROLE_ROLE_ID": role_id,
            "VAULT_APPROLE_SECRET_ID": secret_id,
            "VAULT_AUTH_MOUNT_PATH": auth_mount,
        },
        Path("/nonexistent"),
    )
    session = VaultSession(settings, Deadline(10))
    session.login()
    first_token = session.token
    root_client.auth.token.revoke(first_token)

    answer = session.call(Endpoint.KV2_READ, "GET", f"{mount}/data/probe", what="reading probe")

    assert isinstance(answer.value, Kv2Secret)
    assert answer.value.data == {"v": "1"}
    assert session.token not in (None, first_token)
    session.close()


def _auth_config(openbao: OpenBao, kmock: kmock.KubernetesEmulator) -> dict[str, Any]:
    """OpenBao's kubernetes auth pointed at the double (the CA is required but unused over http)."""
    return {
        "kubernetes_host": str(kmock.url).rstrip("/"),
        "kubernetes_ca_cert": openbao.ca_cert.read_text(),
        "disable_local_ca_jwt": True,
    }


def _token_review(request: kmock.Request) -> dict[str, Any]:
    spec = request.data["spec"]
    ok = spec["token"] == FAKE_JWT
    namespace, name = SERVICE_ACCOUNT
    status: dict[str, Any] = {"authenticated": ok}
    if ok:
        status["user"] = {
            "username": f"system:serviceaccount:{namespace}:{name}",
            "uid": SA_UID,
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
        }
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status}


def _kubernetes_auth(
    openbao: OpenBao,
    root_client: hvac.Client,
    kmock: kmock.KubernetesEmulator,
    role: dict[str, Any],
) -> str:
    """A fresh kubernetes auth mount whose TokenReviews go to the double; returns its path."""
    kmock["post /apis/authentication.k8s.io/v1/tokenreviews"] << _token_review
    auth_mount = unique("k8s")
    root_client.sys.enable_auth_method("kubernetes", path=auth_mount)
    root_client.write_data(f"auth/{auth_mount}/config", data=_auth_config(openbao, kmock))
    root_client.write_data(f"auth/{auth_mount}/role/osd", data=role)
    return auth_mount


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
    env = openbao.env(
        VAULT_AUTH_METHOD="kubernetes",
        VAULT_AUTH_KUBERNETES_ROLE="osd",
        VAULT_AUTH_KUBERNETES_TOKEN_PATH=str(jwt_file),
        VAULT_AUTH_MOUNT_PATH=auth_mount,
        VSI_NAMESPACE="ns",
        **extra,
    )
    del env["VAULT_TOKEN"]
    args = ("--layout", "volume-keys", "--volume", "vol", "--output-dir", str(out_dir))
    return await run_injector_async(env, *args), out_dir


async def test_kubernetes_login_through_a_token_review_double(
    openbao: OpenBao, root_client: hvac.Client, tmp_path: Path, kmock: kmock.KubernetesEmulator
) -> None:
    mount = enable_kv(root_client, 2)
    policy = unique("pol")
    root_client.sys.create_or_update_policy(
        policy, f'path "{mount}/*" {{ capabilities = ["create", "read"] }}'
    )
    auth_mount = _kubernetes_auth(
        openbao,
        root_client,
        kmock,
        {
            "bound_service_account_names": [SERVICE_ACCOUNT[1]],
            "bound_service_account_namespaces": [SERVICE_ACCOUNT[0]],
            "token_policies": [policy],
        },
    )

    result, out_dir = await _inject_with_jwt(
        openbao, tmp_path, FAKE_JWT, auth_mount, VAULT_BACKEND_PATH=mount
    )

    assert result.code == 0, result.output
    assert (out_dir / "vol").read_bytes() == stored_volume_key(root_client, mount, 2, "ns", "vol")
    reviews = list(kmock["post /apis/authentication.k8s.io/v1/tokenreviews"])
    assert len(reviews) == 1
    assert FAKE_JWT not in result.output


async def test_kubernetes_login_rejected_by_the_token_review_fails_closed(
    openbao: OpenBao, root_client: hvac.Client, tmp_path: Path, kmock: kmock.KubernetesEmulator
) -> None:
    auth_mount = _kubernetes_auth(
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

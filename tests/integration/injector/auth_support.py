"""Auth set-ups on the real OpenBao that several injector tests share: a policy, an AppRole and
its credentials, a kubernetes auth mount whose TokenReviews go to the kmock double, and the
JWT-shaped token that double accepts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import kmock

from demo.openbao import OpenBao
from doubles.tokenreview import review_answer, service_account_jwt
from tests.integration.injector.conftest import unique

SERVICE_ACCOUNT = ("storage", "osd-injector")
SA_UID = "0b5b6f1e-5a37-4c55-9d0f-3f1b2b9d6c11"
TOKEN_REVIEWS = "post /apis/authentication.k8s.io/v1/tokenreviews"


# JWT-shaped, with the claims a projected service-account token carries; the double validates it.
FAKE_JWT = service_account_jwt(
    *SERVICE_ACCOUNT, SA_UID, issuer="https://kubernetes.default.svc", audiences=()
)


def create_read_policy(root_client: hvac.Client, path: str) -> str:
    """A fresh policy granting create and read on ``path`` (a glob); returns its name."""
    name = unique("pol")
    root_client.sys.create_or_update_policy(
        name, f'path "{path}" {{ capabilities = ["create", "read"] }}'
    )
    return name


@dataclass(frozen=True)
class AppRole:
    """An AppRole on a fresh auth mount, with one secret id."""

    mount: str
    role_id: str
    secret_id: str = field(repr=False)

    def env(self, openbao: OpenBao, **extra: str) -> dict[str, str]:
        """The injector's environment logging in with this role (no VAULT_TOKEN)."""
        env = openbao.env(
            VAULT_AUTH_METHOD="approle",
            VAULT_APPROLE_ROLE_ID=self.role_id,
            VAULT_APPROLE_SECRET_ID=self.secret_id,
            VAULT_AUTH_MOUNT_PATH=self.mount,
            **extra,
        )
        del env["VAULT_TOKEN"]
        return env


def approle(root_client: hvac.Client, role: str, policy: str, **options: Any) -> AppRole:
    """Enable AppRole on a fresh mount, create ``role`` with ``policy`` and issue a secret id."""
    mount = unique("approle")
    root_client.sys.enable_auth_method("approle", path=mount)
    root_client.auth.approle.create_or_update_approle(
        role, token_policies=[policy], mount_point=mount, **options
    )
    role_id = root_client.auth.approle.read_role_id(role, mount_point=mount)["data"]["role_id"]
    issued = root_client.auth.approle.generate_secret_id(role, mount_point=mount)
    return AppRole(mount, str(role_id), str(issued["data"]["secret_id"]))


def bound_role(policy: str) -> dict[str, Any]:
    """A kubernetes auth role for `SERVICE_ACCOUNT` only, with ``policy``."""
    return {
        "bound_service_account_names": [SERVICE_ACCOUNT[1]],
        "bound_service_account_namespaces": [SERVICE_ACCOUNT[0]],
        "token_policies": [policy],
    }


def _token_review(request: kmock.Request) -> dict[str, Any]:
    known = request.data["spec"]["token"] == FAKE_JWT
    return review_answer((*SERVICE_ACCOUNT, SA_UID) if known else None)


def kubernetes_auth(
    openbao: OpenBao,
    root_client: hvac.Client,
    kmock: kmock.KubernetesEmulator,
    role: dict[str, Any],
) -> str:
    """A fresh kubernetes auth mount whose TokenReviews go to the double, with role ``osd``;
    returns its path. (The CA is required by OpenBao but unused over http.)"""
    kmock[TOKEN_REVIEWS] << _token_review
    auth_mount = unique("k8s")
    root_client.sys.enable_auth_method("kubernetes", path=auth_mount)
    config = {
        "kubernetes_host": str(kmock.url).rstrip("/"),
        "kubernetes_ca_cert": openbao.ca_cert.read_text(),
        "disable_local_ca_jwt": True,
    }
    root_client.write_data(f"auth/{auth_mount}/config", data=config)
    root_client.write_data(f"auth/{auth_mount}/role/osd", data=role)
    return auth_mount


def kubernetes_env(
    openbao: OpenBao, jwt_file: Path, auth_mount: str, **extra: str
) -> dict[str, str]:
    """The injector's environment logging in as role ``osd`` with the JWT in ``jwt_file``."""
    env = openbao.env(
        VAULT_AUTH_METHOD="kubernetes",
        VAULT_AUTH_KUBERNETES_ROLE="osd",
        VAULT_AUTH_KUBERNETES_TOKEN_PATH=str(jwt_file),
        VAULT_AUTH_MOUNT_PATH=auth_mount,
        **extra,
    )
    del env["VAULT_TOKEN"]
    return env

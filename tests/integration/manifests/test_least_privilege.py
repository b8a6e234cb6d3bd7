"""Least privilege for the service accounts the kustomize manifests ship, build by build.

The webhook reads, in a storage namespace, the Secrets its profiles name and no other: the Role of
each example carries exactly the names of its profiles (the example's ConfigMap, parsed by the
webhook's own parser) as ``resourceNames``, with the verbs its caches use (list and watch, by
name). No Secret rule anywhere may go without ``resourceNames``: an empty list grants every
Secret of the namespace.
"""

from __future__ import annotations

import pytest

from tests.integration.manifests.conftest import Obj
from webhook.core.config import parse_config

SECRET_ROLE = "vault-storage-injector-secrets"
"""The webhook's Secret Role in a storage namespace (the examples' namespace/rbac.yaml)."""
EXAMPLES_WITH_SECRET_ROLES = ("portworx", "rook", "rook/kms")


def _profile_secrets(objects: list[Obj]) -> set[str]:
    """The Secret names of the profiles the build's webhook runs with."""
    (config_map,) = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "vault-storage-injector-config"
    ]
    config = parse_config(config_map["data"]["config.yaml"], source="config.yaml")
    return set(config.secret_names)


@pytest.mark.parametrize("example", EXAMPLES_WITH_SECRET_ROLES)
def test_the_examples_secret_roles_name_the_secrets_their_profiles_use(
    builds: dict[str, list[Obj]], example: str
) -> None:
    objects = builds[f"manifests/examples/{example}"]
    roles = [o for o in objects if o["kind"] == "Role" and o["metadata"]["name"] == SECRET_ROLE]
    assert len(roles) == 1
    (rule,) = roles[0]["rules"]
    assert rule["resources"] == ["secrets"]
    assert set(rule["resourceNames"]) == _profile_secrets(objects)
    assert rule["verbs"] == ["list", "watch"]

"""Least privilege for the service accounts the kustomize manifests ship, build by build.

The webhook reads, in a storage namespace, the Secrets its profiles name and no other: the Role of
each example carries exactly the names of its profiles (the example's ConfigMap, parsed by the
webhook's own parser) as ``resourceNames``, with the verbs its caches use (list and watch, by
name); the doctor's storage-namespace Role (manifests/examples/doctor) names the same Secrets,
for ``get``. No Secret rule anywhere may go without ``resourceNames`` (an empty list grants every
Secret of the namespace), and none may ``create`` one.
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


def test_the_doctors_storage_namespace_role_names_the_secrets_of_the_profiles(
    builds: dict[str, list[Obj]],
) -> None:
    objects = builds["manifests/examples/doctor"]
    (role,) = [
        o
        for o in objects
        if o["kind"] == "Role"
        and o["metadata"]["name"] == "vault-storage-injector-doctor"
        and o["metadata"]["namespace"] != "vault-storage-injector"
    ]
    (rule,) = [r for r in role["rules"] if r["resources"] == ["secrets"]]
    assert set(rule["resourceNames"]) == _profile_secrets(objects)
    assert rule["verbs"] == ["get"]


def test_no_secret_rule_goes_without_resource_names_or_creates(all_objects: list[Obj]) -> None:
    for role in (o for o in all_objects if o["kind"] in {"Role", "ClusterRole"}):
        for rule in role["rules"]:
            if "secrets" in rule["resources"]:
                where = f"{role['kind']}/{role['metadata'].get('namespace')}/"
                where += role["metadata"]["name"]
                assert rule.get("resourceNames"), where
                assert "create" not in rule["verbs"], where

"""The chart's Secret Roles name exactly the Secrets the webhook's profiles reference.

The webhook lists and watches, in each opted-in namespace, the Secrets of
`webhook.core.profiles.Config.secret_names` by name; `secretAccess.namespaces` grants that with a
Role whose rule carries those names as ``resourceNames`` (`vsi.profileSecrets` in
templates/_rbac.tpl computes them from the values). For every profile shape the parser accepts,
the Role's names are the names the webhook's parser reads out of the rendered ConfigMap: none
missing (a warning would be lost), none extra (a Secret the webhook has no business reading).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.charts.conftest import EXAMPLES, HELMS, find, render
from tests.integration.manifests.conftest import Obj
from webhook.core.config import parse_config

NAMESPACES = ["rook-ceph", "portworx"]
KMS = {
    "connectionDetails": {
        "KMS_PROVIDER": "vault",
        "VAULT_ADDR": "https://vault.example.com:8200",
        "VAULT_AUTH_METHOD": "token",
        "VAULT_CACERT": "rook-ca",
        "VAULT_CLIENT_CERT": "rook-client-cert",
        "VAULT_CLIENT_KEY": "rook-client-key",
    },
    "tokenSecretName": "rook-token",
}
PROFILES: dict[str, dict[str, Any]] = {
    "built-ins": {},
    "no-built-ins": {
        "builtinProfiles": False,
        "profiles": [
            _px := {
                "name": "px",
                "type": "portworx",
                "connection": {"secret": "px-vault-prod", "tlsSecret": "vault-tls"},
            }
        ],
    },
    "every-shape": {
        "profiles": [
            {
                "name": "portworx",  # overrides the built-in of that name (px-vault)
                "type": "portworx",
                "connection": {
                    "secret": "px-prod",
                    "tlsSecret": {"name": "px-tls", "keys": ["ca.crt"]},
                },
            },
            {
                "name": "volume-keys",
                "type": "volume-keys",
                "connection": {
                    "values": {"VAULT_ADDR": "https://v:8200", "VAULT_AUTH_METHOD": "token"},
                    "tokenSecret": "keys-token",
                },
            },
            {"name": "rook-kms", "type": "rook-kms", "connection": {"kms": KMS}},
        ]
    },
    "no-secret-at-all": {
        "builtinProfiles": False,
        "profiles": [
            {
                "name": "k8s-auth",
                "type": "volume-keys",
                "connection": {
                    "values": {
                        "VAULT_ADDR": "https://v:8200",
                        "VAULT_AUTH_METHOD": "kubernetes",
                        "VAULT_AUTH_KUBERNETES_ROLE": "keys",
                    }
                },
            }
        ],
    },
}


def _secret_roles(objects: list[Obj]) -> list[Obj]:
    return [
        o for o in objects if o["kind"] == "Role" and o["metadata"]["name"].endswith("-secrets")
    ]


def _parsed_names(objects: list[Obj]) -> set[str]:
    config_map = find(objects, "ConfigMap")
    return set(parse_config(config_map["data"]["config.yaml"], source="config.yaml").secret_names)


@pytest.mark.parametrize("binary", HELMS)
@pytest.mark.parametrize("case", PROFILES)
def test_the_secret_roles_name_what_the_profiles_reference(case: str, binary: str) -> None:
    objects = render({**PROFILES[case], "secretAccess": {"namespaces": NAMESPACES}}, binary=binary)
    wanted = _parsed_names(objects)
    roles = _secret_roles(objects)
    if not wanted:  # an empty resourceNames would grant every Secret: no Role at all
        assert roles == []
        return
    assert sorted(r["metadata"]["namespace"] for r in roles) == sorted(NAMESPACES)
    for role in roles:
        (rule,) = role["rules"]
        assert set(rule["resourceNames"]) == wanted
        assert rule["resourceNames"] == sorted(wanted)
        assert rule["verbs"] == ["list", "watch"]


def test_every_shape_case_names_each_kind_of_reference() -> None:
    names = _parsed_names(render(PROFILES["every-shape"]))
    assert names == {
        "px-prod",
        "px-tls",
        "keys-token",
        "rook-ca",
        "rook-client-cert",
        "rook-client-key",
        "rook-token",
        "rook-vault",  # the built-in rook-osd profile's
        "px-vault",  # the built-in portworx-operator profile's
    }


@pytest.mark.parametrize("values_file", sorted(p.name for p in EXAMPLES.glob("*-values.yaml")))
def test_the_example_values_grant_the_names_of_their_profiles(values_file: str) -> None:
    objects = render(value_files=[EXAMPLES / values_file])
    roles = _secret_roles(objects)
    assert roles
    for role in roles:
        assert set(role["rules"][0]["resourceNames"]) == _parsed_names(objects)

"""The injector's own audience-bound Vault token (issue 22 item 3): never the pod's API token."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import pytest

from tests.unit.webhook.support import GOLDEN, context_from_review, validate
from vsi_common import names
from webhook.core import constants as c
from webhook.core.config import load_config, parse_config
from webhook.core.model import AdmissionContext
from webhook.core.mutation import Mutator, build_mutator
from webhook.errors import ConfigError

INJECTOR_CASES = ("volume-keys-pod", "rook-osd-secret-seed", "rook-kms-osd")
"""Golden requests of the three profile types that inject vsi-injector."""
TOKEN_PATH = f"{c.VAULT_TOKEN_MOUNT_PATH}/{c.VAULT_TOKEN_FILE}"


def _case(name: str) -> tuple[dict[str, Any], AdmissionContext]:
    review = json.loads((GOLDEN / name / "request.json").read_text())
    return review["request"]["object"], context_from_review(review, None)


def _mutate(mutator: Mutator, obj: dict[str, Any], ctx: AdmissionContext) -> dict[str, Any]:
    result = mutator(obj, ctx)
    assert result.outcome == "mutated", result.warnings
    out: dict[str, Any] = jsonpatch.apply_patch(obj, list(result.ops))
    return out


def _injector(pod: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(
        ic for ic in pod["spec"]["initContainers"] if ic["name"] == c.INJECTOR_CONTAINER_NAME
    )
    return found


def _volume(pod: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((v for v in pod["spec"].get("volumes", []) if v["name"] == name), None)


def _config(connection: str, kind: str = "volume-keys") -> str:
    return f"profiles: [{{name: {kind}, type: {kind}, connection: {connection}}}]"


@pytest.mark.parametrize("case", INJECTOR_CASES)
def test_the_injector_mounts_its_own_vault_token_and_never_the_pods_api_token(case: str) -> None:
    obj, ctx = _case(case)
    assert any(v["name"].startswith("kube-api-access-") for v in obj["spec"]["volumes"])
    pod = _mutate(build_mutator(load_config(None)), obj, ctx)
    injector = _injector(pod)
    mounts = injector["volumeMounts"]
    assert all(m["mountPath"] != c.SERVICE_ACCOUNT_MOUNT_PATH for m in mounts)
    assert not any(m["name"].startswith("kube-api-access-") for m in mounts)
    assert [m for m in mounts if m["name"] == c.VAULT_TOKEN_VOLUME_NAME] == [
        {"name": c.VAULT_TOKEN_VOLUME_NAME, "mountPath": c.VAULT_TOKEN_MOUNT_PATH, "readOnly": True}
    ]
    assert _volume(pod, c.VAULT_TOKEN_VOLUME_NAME) == {
        "name": c.VAULT_TOKEN_VOLUME_NAME,
        "projected": {
            "sources": [
                {
                    "serviceAccountToken": {
                        "audience": c.DEFAULT_TOKEN_AUDIENCE,
                        "expirationSeconds": 3600,
                        "path": c.VAULT_TOKEN_FILE,
                    }
                }
            ]
        },
    }
    paths = [e for e in injector["env"] if e["name"] == names.VAULT_AUTH_KUBERNETES_TOKEN_PATH]
    assert paths == [{"name": names.VAULT_AUTH_KUBERNETES_TOKEN_PATH, "value": TOKEN_PATH}]
    others = [*pod["spec"]["containers"], *pod["spec"]["initContainers"]]
    users = [
        ct["name"]
        for ct in others
        if any(m["name"] == c.VAULT_TOKEN_VOLUME_NAME for m in ct.get("volumeMounts", []))
    ]
    assert users == [c.INJECTOR_CONTAINER_NAME]
    validate(pod)


def test_the_profiles_token_audience_is_the_tokens_audience() -> None:
    config = parse_config(
        _config("{secret: vsi-vault, tokenAudience: 'https://vault.example.com'}"),
        source="p.yaml",
    )
    obj, ctx = _case("volume-keys-pod")
    pod = _mutate(build_mutator(config), obj, ctx)
    volume = _volume(pod, c.VAULT_TOKEN_VOLUME_NAME)
    assert volume is not None
    token = volume["projected"]["sources"][0]["serviceAccountToken"]
    assert token["audience"] == "https://vault.example.com"


def test_rooks_kms_block_takes_a_token_audience() -> None:
    config = parse_config(
        "profiles: [{name: k, type: rook-kms, connection: {tokenAudience: ceph-vault, kms: "
        "{connectionDetails: {KMS_PROVIDER: vault, VAULT_ADDR: 'https://v:8200', "
        "VAULT_AUTH_METHOD: kubernetes, VAULT_AUTH_KUBERNETES_ROLE: r}}}}]",
        source="p.yaml",
    )
    profile = config.profile("k")
    assert profile is not None
    assert profile.connection.token_audience == "ceph-vault"


def test_a_pod_without_automounted_api_token_still_gets_the_vault_token() -> None:
    obj, ctx = _case("volume-keys-pod")
    obj = copy.deepcopy(obj)
    obj["spec"]["automountServiceAccountToken"] = False
    obj["spec"]["volumes"] = [v for v in obj["spec"]["volumes"] if v["name"] == "data"]
    for container in obj["spec"]["containers"]:
        container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] == "data"]
    pod = _mutate(build_mutator(load_config(None)), obj, ctx)
    assert _volume(pod, c.VAULT_TOKEN_VOLUME_NAME) is not None
    assert any(m["name"] == c.VAULT_TOKEN_VOLUME_NAME for m in _injector(pod)["volumeMounts"])
    validate(pod)


def test_token_auth_needs_no_service_account_token_at_all() -> None:
    config = parse_config(
        _config("{values: {VAULT_ADDR: 'https://v:8200'}, tokenSecret: vault-token}"),
        source="p.yaml",
    )
    obj, ctx = _case("volume-keys-pod")
    pod = _mutate(build_mutator(config), obj, ctx)
    assert _volume(pod, c.VAULT_TOKEN_VOLUME_NAME) is None
    injector = _injector(pod)
    assert all(m["name"] != c.VAULT_TOKEN_VOLUME_NAME for m in injector["volumeMounts"])
    assert all(e["name"] != names.VAULT_AUTH_KUBERNETES_TOKEN_PATH for e in injector["env"])


def test_a_profile_value_cannot_point_the_injector_at_another_token_file() -> None:
    config = parse_config(
        _config(
            "{values: {VAULT_ADDR: 'https://v:8200', VAULT_AUTH_METHOD: kubernetes, "
            "VAULT_AUTH_KUBERNETES_ROLE: r, VAULT_AUTH_KUBERNETES_TOKEN_PATH: "
            "/var/run/secrets/kubernetes.io/serviceaccount/token}}"
        ),
        source="p.yaml",
    )
    obj, ctx = _case("volume-keys-pod")
    env = _injector(_mutate(build_mutator(config), obj, ctx))["env"]
    paths = [e for e in env if e["name"] == names.VAULT_AUTH_KUBERNETES_TOKEN_PATH]
    assert paths == [{"name": names.VAULT_AUTH_KUBERNETES_TOKEN_PATH, "value": TOKEN_PATH}]


def test_a_foreign_volume_of_our_token_name_is_a_conflict() -> None:
    obj, ctx = _case("volume-keys-pod")
    obj = copy.deepcopy(obj)
    obj["spec"]["volumes"].append({"name": c.VAULT_TOKEN_VOLUME_NAME, "emptyDir": {}})
    result = build_mutator(load_config(None))(obj, ctx)
    assert result.reason == c.SKIP_CONFLICT
    assert result.ops == ()
    assert any(c.VAULT_TOKEN_VOLUME_NAME in w for w in result.warnings)


def test_a_second_mutation_adds_no_second_token() -> None:
    mutator = build_mutator(load_config(None))
    obj, ctx = _case("volume-keys-pod")
    pod = _mutate(mutator, obj, ctx)
    again = mutator(pod, ctx)
    assert not again.ops


@pytest.mark.parametrize(
    ("audience", "message"),
    [
        ("''", "expected a non-empty string"),
        ("'a b'", "expected an audience: 1 to 253 characters without spaces"),
        ("x" * 254, "expected an audience: 1 to 253 characters without spaces"),
        ("[vault]", "expected a non-empty string, got a list"),
    ],
)
def test_a_bad_token_audience_is_one_line_naming_the_field(audience: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_config(f"{{secret: s, tokenAudience: {audience}}}"), source="p.yaml")
    text = str(info.value)
    assert text.startswith(f"p.yaml: profiles[0].connection.tokenAudience: {message}"), text
    assert "\n" not in text
    assert info.value.exit_code == 2


def test_a_portworx_profile_takes_no_token_audience() -> None:
    with pytest.raises(ConfigError, match=r"connection.tokenAudience"):
        parse_config(_config("{secret: px-vault, tokenAudience: vault}", "portworx"), source="p")

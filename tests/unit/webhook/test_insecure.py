"""Issue 22, item 6: a profile that turns TLS (or its verification) off loads only when it says
``connection.allowInsecure: true``, and then every mutation by it warns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.webhook.support import GOLDEN, context_from_review, load_cluster
from vsi_common import names, vault_values
from vsi_common import values as go
from webhook.core import constants as c
from webhook.core.config import parse_config
from webhook.core.model import AdmissionContext
from webhook.core.mutation import build_mutator
from webhook.errors import ConfigError

ROLE = "VAULT_AUTH_METHOD: kubernetes, VAULT_AUTH_KUBERNETES_ROLE: r"
ALLOWED = "only with connection.allowInsecure: true"


def profile(settings: str, more: str = "") -> str:
    """One volume-keys profile with kubernetes auth and ``settings`` (and ``more`` fields)."""
    return (
        "profiles: [{name: keys, type: volume-keys, connection: "
        f"{{values: {{{ROLE}, {settings}}}{more}}}}}]"
    )


def refusal(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="p.yaml")
    return info.value


@pytest.mark.parametrize("addr", ["http://vault:8200", "http://10.0.0.1"])
def test_a_plain_http_address_is_refused_naming_the_setting_and_the_way_out(addr: str) -> None:
    error = refusal(profile(f"VAULT_ADDR: '{addr}'"))
    assert str(error) == (
        "p.yaml: profiles[0].connection.values.VAULT_ADDR: is plain http://; allowed " + ALLOWED
    )
    assert error.exit_code == 2


@pytest.mark.parametrize("word", go.GO_TRUE_WORDS)
def test_skip_verify_true_in_any_go_spelling_is_refused(word: str) -> None:
    error = refusal(profile(f"VAULT_ADDR: 'https://v', VAULT_SKIP_VERIFY: '{word}'"))
    assert "profiles[0].connection.values.VAULT_SKIP_VERIFY: turns TLS verification off" in str(
        error
    )
    assert ALLOWED in str(error)


@pytest.mark.parametrize("word", go.GO_FALSE_WORDS)
def test_skip_verify_false_over_https_loads_as_secure(word: str) -> None:
    config = parse_config(
        profile(f"VAULT_ADDR: 'https://v', VAULT_SKIP_VERIFY: '{word}'"), source="p"
    )
    assert config.profiles[0].connection.insecure is None


def test_rooks_block_is_held_to_the_same_rule() -> None:
    text = (
        "profiles: [{name: r, type: rook-kms, connection: {kms: {connectionDetails: "
        "{KMS_PROVIDER: vault, VAULT_ADDR: 'http://v:8200'}, tokenSecretName: t}%s}}]"
    )
    assert "connection.kms.connectionDetails.VAULT_ADDR: is plain http://" in str(
        refusal(text % "")
    )
    allowed = parse_config(text % ", allowInsecure: true", source="p").profiles[0].connection
    assert (allowed.insecure, allowed.allow_insecure) == (names.VAULT_ADDR, True)


def test_allow_insecure_must_be_a_boolean() -> None:
    error = refusal(profile("VAULT_ADDR: 'http://v'", ", allowInsecure: 'yes'"))
    assert "profiles[0].connection.allowInsecure: expected true or false" in str(error)


def test_the_insecure_setting_is_named_address_first() -> None:
    both = {names.VAULT_ADDR: "http://v", names.VAULT_SKIP_VERIFY: "1"}
    assert vault_values.insecure_setting(both) == names.VAULT_ADDR
    assert vault_values.insecure_setting({names.VAULT_ADDR: "https://v"}) is None


def _golden_pod() -> tuple[dict[str, Any], AdmissionContext]:
    case = GOLDEN / "volume-keys-pod"
    review = json.loads((case / "request.json").read_text())
    return review["request"]["object"], context_from_review(review, load_cluster(case))


def test_every_mutation_by_an_allowed_insecure_profile_warns_and_says_the_setting() -> None:
    config = parse_config(
        profile("VAULT_ADDR: 'https://v', VAULT_SKIP_VERIFY: 'true'", ", allowInsecure: true"),
        source="p",
    )
    obj, ctx = _golden_pod()
    result = build_mutator(config)(obj, ctx)
    assert result.outcome == "mutated"
    assert result.insecure == names.VAULT_SKIP_VERIFY
    expected = c.INSECURE_WARNING.format(profile="keys", setting=names.VAULT_SKIP_VERIFY)
    assert expected in result.warnings
    assert len(expected) <= c.MAX_WARNING_LENGTH


def test_a_secure_profile_mutates_without_the_warning() -> None:
    config = parse_config(profile("VAULT_ADDR: 'https://v'", ", allowInsecure: true"), source="p")
    obj, ctx = _golden_pod()
    result = build_mutator(config)(obj, ctx)
    assert result.outcome == "mutated"
    assert result.insecure is None
    assert not any("insecure" in w for w in result.warnings)


def test_the_preview_refuses_an_insecure_profile_with_exit_2_and_one_line(tmp_path: Path) -> None:
    config = tmp_path / "profiles.yaml"
    config.write_text(profile("VAULT_ADDR: 'http://bao:8200'"))
    obj = tmp_path / "pod.yaml"
    obj.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "webhook", "mutate", "-f", str(obj), "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "connection.values.VAULT_ADDR: is plain http://" in lines[0]
    assert "connection.allowInsecure" in lines[0]

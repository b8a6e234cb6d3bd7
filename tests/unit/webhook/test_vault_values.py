"""VAULT_* values in profiles: refused when the profiles load, by the rule the injector applies.

A bad value must be one line naming the setting and what it takes, exit code 2, when the
webhook loads its profiles, never a crash-looping pod later; a good one must pass both the
loader and the injector. Every setting Portworx and Rook read passes through, from ``values``
and from Rook's ``connectionDetails``, for the profile types one of its readers serves. Rook's
own blocks, pasted from its documentation and tests (shared/reference/real-world), load, but
the transit one and the unquoted boolean.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from injector.errors import SettingsError
from injector.settings.vault_env import parse_vault
from tests import realworld
from tests.unit.injector.support import NO_SA, base_env
from vsi_common import names, vault_values
from webhook.core import constants as c
from webhook.core.config import parse_config
from webhook.errors import ConfigError

ADDR = "VAULT_ADDR: 'https://vault:8200'"


def values(settings: str, profile_type: str = "rook-osd") -> str:
    """A profile with ``values`` (and a token Secret) of ``profile_type``."""
    return (
        f"profiles: [{{name: a, type: {profile_type}, connection: "
        f"{{values: {{{ADDR}, {settings}}}, tokenSecret: t}}}}]"
    )


def kms(details: str, profile_type: str = "rook-kms") -> str:
    """A profile with Rook's block of ``profile_type``."""
    return (
        f"profiles: [{{name: a, type: {profile_type}, connection: {{kms: {{connectionDetails: "
        f"{{KMS_PROVIDER: vault, {ADDR}, {details}}}, tokenSecretName: t}}}}}}]"
    )


def refusal(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="p.yaml")
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)
    return str(info.value)


REFUSED = [
    # the issue's four, in values and in Rook's block
    (
        kms("VAULT_SECRET_ENGINE: transit", "rook-osd"),
        "kms.connectionDetails.VAULT_SECRET_ENGINE: transit keeps keys inside Vault",
    ),
    (values("VAULT_SECRET_ENGINE: foo"), "values.VAULT_SECRET_ENGINE: expected kv"),
    (values("VAULT_BACKEND: v3"), "values.VAULT_BACKEND: expected kv, kv-v2, v1 or v2"),
    (
        kms("VAULT_SKIP_VERIFY: 'maybe'"),
        "kms.connectionDetails.VAULT_SKIP_VERIFY: expected true or false (Go's spellings",
    ),
    # what each consumer takes
    (
        values("VAULT_BACKEND: v2", "portworx"),
        "values.VAULT_BACKEND: expected kv or kv-v2 (what Portworx takes)",
    ),
    (values("VAULT_SKIP_VERIFY: 'yes'"), "values.VAULT_SKIP_VERIFY: expected true or false"),
    (values("VAULT_SKIP_VERIFY: true"), "values.VAULT_SKIP_VERIFY: expected a string"),
    (values("VAULT_MAX_RETRIES: 3"), "values.VAULT_MAX_RETRIES: expected a string (quote it)"),
    (values("VAULT_MAX_RETRIES: '-1'"), "values.VAULT_MAX_RETRIES: expected a whole number"),
    (
        values("VAULT_MAX_RETRIES: '4294967296'"),
        "values.VAULT_MAX_RETRIES: expected a whole number from 0 to 4294967295",
    ),
    (values("VAULT_CLIENT_TIMEOUT: soon"), "values.VAULT_CLIENT_TIMEOUT: expected whole seconds"),
    (
        values("VAULT_COOLDOWN_PERIOD: 1m", "portworx"),
        "values.VAULT_COOLDOWN_PERIOD: expected 0 (off) or a Go duration over one minute",
    ),
    (values("VAULT_RATE_LIMIT: fast", "rook-kms"), "values.VAULT_RATE_LIMIT: expected requests"),
    (
        "profiles: [{name: a, type: rook-osd, connection: {values: {VAULT_ADDR: "
        "'https://vault:65536'}, tokenSecret: t}}]",
        "values.VAULT_ADDR: expected an http:// or https:// URL (host, a port 1-65535",
    ),
    # who reads it: a setting no client of the type reads, a proxy the injector cannot follow
    (
        values("VAULT_BASE_PATH: portworx"),
        "values.VAULT_BASE_PATH: only allowed with type portworx or portworx-operator",
    ),
    (
        kms("VAULT_PROXY_ADDR: 'http://proxy:3128'"),
        "kms.connectionDetails.VAULT_PROXY_ADDR: only allowed with type portworx or",
    ),
    (
        values("VAULT_COOLDOWN_PERIOD: 5m", "volume-keys"),
        "values.VAULT_COOLDOWN_PERIOD: only allowed with type portworx or portworx-operator or",
    ),
    (
        values("VAULT_SECRET_ENGINE: kv", "portworx"),
        "values.VAULT_SECRET_ENGINE: only allowed with type rook-osd or rook-kms or volume-keys",
    ),
    # where Portworx reads its Secret
    (
        "profiles: [{name: a, type: portworx, connection: {secret: pxv, secretNamespace: px}}]",
        "secretNamespace: Portworx reads only a Secret named px-vault itself",
    ),
    (
        "profiles: [{name: a, type: rook-osd, connection: {secret: px-vault, "
        "secretNamespace: px}}]",
        "secretNamespace: only allowed with type portworx or portworx-operator",
    ),
    (
        "profiles: [{name: a, type: portworx, connection: {secret: px-vault, "
        "secretNamespace: Bad_NS}}]",
        "secretNamespace: expected a DNS-1123 label",
    ),
]


@pytest.mark.parametrize(("text", "field_and_problem"), REFUSED)
def test_a_bad_value_is_refused_at_load_naming_the_setting_and_what_it_takes(
    text: str, field_and_problem: str
) -> None:
    assert refusal(text).startswith(f"p.yaml: profiles[0].connection.{field_and_problem}")


def insecure(text: str) -> str:
    """``text`` (one profile with ``values`` and a token Secret) with ``allowInsecure: true``."""
    return text.replace("tokenSecret: t", "tokenSecret: t, allowInsecure: true")


PASSED = [
    insecure(values("VAULT_BACKEND: v2, VAULT_SECRET_ENGINE: kv, VAULT_SKIP_VERIFY: 'True'")),
    values("VAULT_CLIENT_TIMEOUT: '1m30s', VAULT_MAX_RETRIES: '0'", "volume-keys"),
    values(
        "VAULT_BASE_PATH: portworx, VAULT_COOLDOWN_PERIOD: 10m, VAULT_RATE_LIMIT: '2.5:5', "
        "VAULT_SRV_LOOKUP: 'false', VAULT_PROXY_ADDR: 'http://proxy:3128', "
        "VAULT_AGENT_ADDR: 'unix:///run/agent.sock', VAULT_BACKEND: kv-v2",
        "portworx",
    ),
    # issue 23, 5: Rook hands every VAULT_* setting to its Vault client
    kms("VAULT_CLIENT_TIMEOUT: '30', VAULT_MAX_RETRIES: '5', VAULT_COOLDOWN_PERIOD: '0'"),
    kms("VAULT_BACKEND: v1, VAULT_RATE_LIMIT: '10'"),
    "profiles: [{name: a, type: portworx-operator, connection: {secret: px-vault, "
    "secretNamespace: vault-secrets}}]",
]


@pytest.mark.parametrize("text", PASSED)
def test_every_setting_portworx_and_rook_read_passes_through(text: str) -> None:
    config = parse_config(text, source="p.yaml")
    connection = config.profiles[0].connection
    assert connection.values or connection.secret_namespace


def test_the_settings_pass_through_in_the_order_of_the_names() -> None:
    config = parse_config(PASSED[2], source="p.yaml")
    given = [name for name, _ in config.profiles[0].connection.values]
    assert given == [n for n in names.ALL_SETTINGS if n in given]
    assert names.VAULT_BASE_PATH in given


SHARED = [
    (names.VAULT_BACKEND, "v2"),
    (names.VAULT_BACKEND, "v3"),
    (names.VAULT_SECRET_ENGINE, "transit"),
    (names.VAULT_SECRET_ENGINE, "kv"),
    (names.VAULT_SKIP_VERIFY, "maybe"),
    (names.VAULT_SKIP_VERIFY, "T"),
    (names.VAULT_CLIENT_TIMEOUT, "45"),
    (names.VAULT_CLIENT_TIMEOUT, "45x"),
    (names.VAULT_MAX_RETRIES, "7"),
    (names.VAULT_MAX_RETRIES, "seven"),
    (names.VAULT_ADDR, "https://vault:0"),
    (names.VAULT_ADDR, "https://vault:8200/prefix"),
]


@pytest.mark.parametrize(("name", "value"), SHARED)
def test_the_loader_and_the_injector_take_and_refuse_the_same_values(
    tmp_path: Path, name: str, value: str
) -> None:
    """One rule: a value the webhook loads into a rook-osd profile (the injector is its only
    client) is one the injector starts with, and the reverse."""
    loaded = True
    setting = f"{name}: '{value}'" if name != names.VAULT_ADDR else ""
    text = values(setting) if setting else values("").replace(ADDR, f"{name}: '{value}'")
    text = insecure(text)  # the value rule, not the insecure one (test_profiles.py has that)
    try:
        parse_config(text.replace(", }", "}"), source="p.yaml")
    except ConfigError:
        loaded = False
    started = True
    try:
        parse_vault(base_env(tmp_path, **{name: value}), NO_SA)
    except SettingsError:
        started = False
    assert loaded == started
    assert loaded == (vault_values.problem(name, value, {vault_values.INJECTOR}) is None)


def test_a_bad_profile_value_stops_the_preview_with_exit_2_and_one_line(tmp_path: Path) -> None:
    config = tmp_path / "profiles.yaml"
    config.write_text(values("VAULT_BACKEND: v2", "portworx") + "\n")
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
    assert "profiles[0].connection.values.VAULT_BACKEND: expected kv or kv-v2" in lines[0]


REFUSED_BLOCKS = {
    "r10-transit.yaml": "connectionDetails.VAULT_SECRET_ENGINE: transit keeps keys inside Vault",
    "r7-skip-verify-bool.yaml": "connectionDetails.VAULT_SKIP_VERIFY: expected a string",
}
"""Rook's blocks that do not load, and why: transit is for object stores (OSD keys need kv),
and an unquoted boolean is refused by Rook's own type (connectionDetails is a map of strings)."""
INSECURE_BLOCKS = {
    "kms-r4-rooktest-k8s.yaml": "VAULT_SKIP_VERIFY: turns TLS verification off",
    "kms-r5-rooktest-token.yaml": "VAULT_SKIP_VERIFY: turns TLS verification off",
    "r4-rooktest-k8s.yaml": "VAULT_SKIP_VERIFY: turns TLS verification off",
    "r5-rooktest-token.yaml": "VAULT_SKIP_VERIFY: turns TLS verification off",
    "r9-objectstore-v2.yaml": "VAULT_ADDR: is plain http://",
}
"""Rook's test blocks that turn TLS (verification) off: refused unless ``allowInsecure``."""


def _allowing_insecure(text: str) -> str:
    data = yaml.safe_load(text)
    data["profiles"][0]["connection"]["allowInsecure"] = True
    return yaml.safe_dump(data)


@realworld.needs_folder
@pytest.mark.parametrize("path", realworld.kms_blocks(), ids=lambda p: p.name)
def test_every_rook_kms_block_loads_but_transit_and_the_unquoted_boolean(path: Path) -> None:
    refused = REFUSED_BLOCKS.get(path.name)
    text = path.read_text()
    if path.name in INSECURE_BLOCKS:
        with pytest.raises(ConfigError) as insecure_info:
            parse_config(text, source=path.name)
        said = str(insecure_info.value)
        assert f"connection.kms.connectionDetails.{INSECURE_BLOCKS[path.name]}" in said
        assert "allowed only with connection.allowInsecure: true" in said
        assert insecure_info.value.exit_code == 2
        text = _allowing_insecure(text)
    if refused is None:
        config = parse_config(text, source=path.name)
        profile = config.profiles[0]
        assert profile.connection.kms is not None
        assert profile.type in (c.TYPE_ROOK_OSD, c.TYPE_ROOK_KMS)
        return
    with pytest.raises(ConfigError) as info:
        parse_config(path.read_text(), source=path.name)
    assert f"profiles[0].connection.kms.{refused}" in str(info.value)
    assert info.value.exit_code == 2


@realworld.needs_folder
def test_the_real_folder_has_the_blocks_the_issue_names() -> None:
    found = {p.name for p in realworld.kms_blocks()}
    assert set(REFUSED_BLOCKS) <= found
    assert len(found) >= 10

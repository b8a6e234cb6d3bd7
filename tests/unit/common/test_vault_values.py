"""vsi_common.vault_values: one rule per VAULT_* name, as the vendors' code reads each value."""

from __future__ import annotations

import re

import pytest

from vsi_common import names, values, vault_values
from vsi_common.vault_values import INJECTOR, PORTWORX, ROOK, RULES


def test_every_vault_name_has_one_rule_in_the_order_of_the_names() -> None:
    constants = [v for k, v in vars(names).items() if k.startswith("VAULT_") and isinstance(v, str)]
    assert sorted(constants) == sorted(names.ALL_SETTINGS)
    assert list(RULES) == list(names.ALL_SETTINGS)
    assert not set(names.VAULT_SETTINGS) & set(names.PASS_THROUGH_SETTINGS)
    for name in names.PASS_THROUGH_SETTINGS:
        assert INJECTOR not in RULES[name].readers, name


def test_patterns_are_anchored_and_compile() -> None:
    for rule in RULES.values():
        if rule.pattern is not None:
            assert rule.pattern.startswith("^"), rule.name
            assert rule.pattern.endswith("$"), rule.name
            re.compile(rule.pattern)


@pytest.mark.parametrize(
    ("name", "value", "readers", "problem"),
    [
        (names.VAULT_BACKEND, "v2", None, None),
        (names.VAULT_BACKEND, "v2", {ROOK, INJECTOR}, None),
        (names.VAULT_BACKEND, "v2", {PORTWORX}, "expected kv or kv-v2 (what Portworx takes)"),
        (names.VAULT_BACKEND, "KV", None, "expected kv, kv-v2, v1 or v2"),
        (names.VAULT_SECRET_ENGINE, "kv", None, None),
        (names.VAULT_SECRET_ENGINE, "transit", None, "transit keeps keys inside Vault"),
        (names.VAULT_SKIP_VERIFY, "True", None, None),
        (names.VAULT_SKIP_VERIFY, "on", None, "expected true or false (Go's spellings"),
        (names.VAULT_COOLDOWN_PERIOD, "0", None, None),
        (names.VAULT_COOLDOWN_PERIOD, "61s", None, None),
        (names.VAULT_COOLDOWN_PERIOD, "1m", None, "expected 0 (off) or a Go duration over"),
        (names.VAULT_COOLDOWN_PERIOD, "300", None, "expected 0 (off)"),
        (names.VAULT_CLIENT_TIMEOUT, "300", None, None),
        (names.VAULT_CLIENT_TIMEOUT, "1h2m3.5s", None, None),
        (names.VAULT_MAX_RETRIES, "4294967295", None, None),
        (names.VAULT_MAX_RETRIES, "+1", None, "expected a whole number"),
        (names.VAULT_RATE_LIMIT, "10", None, None),
        (names.VAULT_RATE_LIMIT, "2.5:5", None, None),
        (names.VAULT_RATE_LIMIT, "2:5:1", None, "expected requests per second"),
        (names.VAULT_ADDR, "https://[::1]:8200", None, None),
        (names.VAULT_ADDR, "https://vault:65535/v", None, None),
        (names.VAULT_ADDR, "https://vault:0", None, "expected an http:// or https:// URL"),
        (names.VAULT_ADDR, "https://u:p@vault", None, "expected an http:// or https:// URL"),
        (names.VAULT_ADDR, "https://vault?x=1", None, "expected an http:// or https:// URL"),
        (names.VAULT_PROXY_ADDR, "http://proxy:3128", None, None),
        (names.VAULT_AGENT_ADDR, "unix:///run/agent.sock", None, None),
        (names.VAULT_AGENT_ADDR, "agent:8100", None, "expected a URL"),
        (names.VAULT_BASE_PATH, "portworx/keys", None, None),
        (names.VAULT_BASE_PATH, "/portworx", None, "expected a path under the KV mount"),
        ("NOT_A_VAULT_NAME", "anything", None, None),
    ],
)
def test_each_value_as_its_readers_take_it(
    name: str, value: str, readers: set[str] | None, problem: str | None
) -> None:
    found = vault_values.problem(name, value, readers)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(problem)


def test_durations_are_read_in_seconds_as_vaults_go_client_reads_them() -> None:
    assert vault_values.go_seconds("1h2m3.5s") == 3723.5
    assert vault_values.go_seconds("250ms") == 0.25
    assert vault_values.client_timeout_seconds("45") == 45.0
    assert vault_values.client_timeout_seconds("2m") == 120.0


def test_a_proxy_is_allowed_only_where_every_client_follows_it() -> None:
    assert vault_values.allowed_for(names.VAULT_PROXY_ADDR, {PORTWORX})
    assert not vault_values.allowed_for(names.VAULT_PROXY_ADDR, {ROOK, INJECTOR})
    assert vault_values.allowed_for(names.VAULT_COOLDOWN_PERIOD, {ROOK, INJECTOR})
    assert not vault_values.allowed_for(names.VAULT_BASE_PATH, {INJECTOR})


@pytest.mark.parametrize("word", [*values.GO_TRUE_WORDS, *values.GO_FALSE_WORDS])
def test_go_booleans_are_gos_spellings(word: str) -> None:
    assert values.parse_go_bool(f" {word} ") is (word in values.GO_TRUE_WORDS)
    assert re.match(vault_values.GO_BOOL_PATTERN, word)


@pytest.mark.parametrize("word", ["yes", "on", "tRuE", "", "2"])
def test_other_words_are_not_go_booleans(word: str) -> None:
    with pytest.raises(ValueError, match="expected true or false"):
        values.parse_go_bool(word)

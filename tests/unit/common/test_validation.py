"""One set of name rules for every package: the cases that copies of the regexes disagreed on."""

from __future__ import annotations

import pytest

from vsi_common import validation as v
from vsi_common.values import parse_bool

# name, DNS-1123 label, DNS-1035 label, DNS-1123 subdomain
NAMES = [
    ("px-vault", True, True, True),
    ("a", True, True, True),
    ("0abc", True, False, True),
    ("rook-ceph-osd-encryption-key-set1-data-0", True, True, True),
    ("tls.example", False, False, True),
    ("a..b", False, False, False),  # the profiles validator accepted this as a Secret name
    ("a.-b", False, False, False),  # and this
    ("a-.b", False, False, False),
    (".a", False, False, False),
    ("a.", False, False, False),
    ("-a", False, False, False),
    ("a-", False, False, False),
    ("A", False, False, False),
    ("a_b", False, False, False),
    ("", False, False, False),
    ("a" * 63, True, True, True),
    ("a" * 64, False, False, True),  # Kubernetes' subdomain rule has no per-part limit
    (".".join(["a" * 63] * 4)[:253], False, False, True),
    ("a" * 254, False, False, False),
]


@pytest.mark.parametrize(("name", "label", "label1035", "subdomain"), NAMES)
def test_kubernetes_name_rules(name: str, label: bool, label1035: bool, subdomain: bool) -> None:
    assert v.is_dns1123_label(name) is label
    assert v.is_namespace_name(name) is label
    assert v.is_dns1035_label(name) is label1035
    assert v.is_service_name(name) is label1035
    assert v.is_dns1123_subdomain(name) is subdomain
    assert v.is_secret_name(name) is subdomain
    assert v.is_pvc_name(name) is subdomain


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("vault.vault.svc", {}, True),
        ("Vault.Example.COM", {}, True),
        ("vault_1", {}, False),
        ("vault_1", {"underscores": True}, True),
        ("vault.example.", {}, False),
        ("vault.example.", {"trailing_dot": True}, True),
        ("a..b", {}, False),
        ("-a.b", {}, False),
        ("a" * 64 + ".b", {}, False),
        ("", {}, False),
        ("x" * 254, {}, False),
    ],
)
def test_hostnames(name: str, options: dict[str, bool], expected: bool) -> None:
    assert v.is_hostname(name, **options) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[(word, True) for word in ("true", "T", "1", "yes", "on", "y", " TRUE ")],
        *[(word, False) for word in ("false", "F", "0", "no", "off", "")],
    ],
)
def test_booleans_accept_what_go_parsebool_accepts(text: str, expected: bool) -> None:
    assert parse_bool(text) is expected


def test_a_bad_boolean_names_the_value() -> None:
    with pytest.raises(ValueError, match=r"expected true or false, got 'maybe'"):
        parse_bool("maybe")

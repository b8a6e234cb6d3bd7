"""Redaction: what the other side sent back is quoted without any secret of the run."""

from __future__ import annotations

import base64
import secrets

from injector.redact import MAX_QUOTED, REDACTED, Redactor, one_line

TOKEN = "hvs.CAESIJ3xq0Z9y8Qk2nPqLmVtRwS5aBcDeFgH"
SECRET_ID = "0b5b6f1e-5a37-4c55-9d0f-3f1b2b9d6c11"


def test_known_secrets_are_removed_whole_and_in_pieces() -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    redactor = Redactor(TOKEN, SECRET_ID, key)
    text = f"echo: token={TOKEN} secret_id={SECRET_ID} key={key} half={key[5:20]} tail={TOKEN[-9:]}"

    quoted = redactor.quote(text)

    for secret in (TOKEN, SECRET_ID, key):
        assert secret not in quoted
        for start in range(len(secret) - 8):
            assert secret[start : start + 8] not in quoted
    assert quoted.startswith("echo: token=[redacted] secret_id=[redacted] key=[redacted]")


def test_short_secrets_are_removed_whole_only() -> None:
    assert Redactor("root").quote("the root token is root") == (
        f"the {REDACTED} token is {REDACTED}"
    )


def test_a_one_letter_dev_token_leaves_words_alone() -> None:
    redactor = Redactor("e")
    report = "VAULT_ADDR http://127.0.0.1:1 uses http://: the token e and token=e, VAULT_TOKEN e"

    assert redactor.scrub(report) == (
        f"VAULT_ADDR http://127.0.0.1:1 uses http://: the token {REDACTED} and "
        f"token={REDACTED}, VAULT_TOKEN {REDACTED}"
    )
    assert redactor.quote("e") == REDACTED


def test_a_four_letter_dev_token_is_redacted_as_a_whole_token_only() -> None:
    redactor = Redactor("root")

    quoted = redactor.quote('root: rootless "root" roots, X-Vault-Token: root. (root)')

    assert quoted == (
        f'{REDACTED}: rootless "{REDACTED}" roots, X-Vault-Token: {REDACTED}. ({REDACTED})'
    )
    assert redactor.scrub("grootroot root-ca") == "grootroot root-ca"


def test_secret_shaped_strings_are_removed_whoever_they_belong_to() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlLXZhbHVl"
    other_key = base64.b64encode(secrets.token_bytes(32)).decode()
    redactor = Redactor()

    quoted = redactor.quote(
        f"tokens hvs.AAAAbbbbCCCCdddd1234 s.abcdefghijklmnop1 {jwt} {other_key}"
    )

    assert quoted == f"tokens {REDACTED} {REDACTED} {REDACTED} {REDACTED}"
    hex_key = secrets.token_bytes(32).hex()
    assert redactor.quote(f"key {hex_key}") == f"key {REDACTED}"


def test_ordinary_vault_errors_survive() -> None:
    redactor = Redactor(TOKEN)
    texts = [
        "1 error occurred: * permission denied",
        "check-and-set parameter did not match the current version",
        'no handler for route "kv2-1309832d/data/vault-storage-injector/ns/data-0". route entry',
        "request id 3bbddc80-1a0f-18af-b5a0-c938d48e1dd8 failed",
        "preflight capability check returned 403, please ensure client's policies grant access",
    ]

    for text in texts:
        assert redactor.quote(text) == text


def test_quotes_are_one_line_and_bounded() -> None:
    quoted = Redactor().quote("a\r\nb\tc\x1b[31m\u2028d" + "e" * 5000)

    assert "\n" not in quoted
    assert "\x1b" not in quoted
    assert quoted.startswith("a b c [31m d")
    assert len(quoted) <= MAX_QUOTED


def test_scrub_removes_known_secrets_only() -> None:
    assert Redactor(TOKEN).scrub(f"path kv/AbC123dEf456GhI789jKl012 {TOKEN}") == (
        f"path kv/AbC123dEf456GhI789jKl012 {REDACTED}"
    )


def test_secrets_added_later_count_and_empty_ones_do_not() -> None:
    redactor = Redactor(None, "", "  ")
    assert redactor.scrub("a  b") == "a  b"
    redactor.add(b"late-secret-value")

    assert redactor.quote("x late-secret-value y") == f"x {REDACTED} y"
    assert redactor.scrub("x late-secret-value y") == f"x {REDACTED} y"


def test_one_line_cuts_with_an_ellipsis() -> None:
    assert one_line("abcdefghij", 8) == "abcde..."

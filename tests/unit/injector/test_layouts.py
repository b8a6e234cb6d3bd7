"""Key layouts: ids, paths, fields and the bytes each layout writes (pure, no server)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from injector import layouts


def test_rook_spec_matches_the_id_and_field_rook_uses() -> None:
    spec = layouts.rook_spec("set1-data-0-x7k2p")

    assert spec.secret_path == "rook-ceph-osd-encryption-key-set1-data-0-x7k2p"
    assert spec.field == spec.secret_path
    assert spec.file_name == "luks_key"


def test_volume_keys_default_template_is_namespaced() -> None:
    spec = layouts.volume_keys_spec(
        layouts.DEFAULT_KEY_PATH_TEMPLATE, namespace="apps", pvc="data-0"
    )

    assert spec.secret_path == "vault-storage-injector/apps/data-0"
    assert (spec.field, spec.file_name) == ("key", "data-0")


@pytest.mark.parametrize(
    ("template", "fields"),
    [
        ("k/{namespace}/{pvc}", {"namespace", "pvc"}),
        ("by-handle/{volume_handle}", {"volume_handle"}),
        ("{pv}", {"pv"}),
    ],
)
def test_template_fields_are_reported(template: str, fields: set[str]) -> None:
    assert layouts.template_fields(template) == fields


@pytest.mark.parametrize("template", ["k/{namespace}", "k/{pvc!r}", "k/{pvc:>9}", "k/{", "k/{0}"])
def test_templates_that_cannot_name_one_key_per_volume_are_rejected(template: str) -> None:
    with pytest.raises(ValueError, match=r"placeholder|must contain|malformed"):
        layouts.template_fields(template)


@pytest.mark.parametrize("path", ["", "/a", "a/", "a//b", "a/../b", "a/./b", "a/b c"])
def test_unsafe_secret_paths_are_explained(path: str) -> None:
    assert layouts.check_secret_path(path) is not None


def test_volume_handle_with_a_slash_cannot_escape_the_template() -> None:
    with pytest.raises(ValueError, match="unsafe"):
        layouts.volume_keys_spec("k/{volume_handle}", namespace="n", pvc="p", volume_handle="../x")


@given(st.binary(min_size=layouts.VOLUME_KEY_BYTES, max_size=layouts.VOLUME_KEY_BYTES))
def test_volume_keys_file_holds_the_raw_bytes_vault_stores_in_base64(raw: bytes) -> None:
    stored = layouts.stored_text(raw)

    assert base64.b64decode(stored) == raw
    assert layouts.file_bytes(layouts.VOLUME_KEYS, stored) == raw


@given(st.binary(min_size=1, max_size=256).filter(lambda b: len(b) != layouts.VOLUME_KEY_BYTES))
def test_a_volume_keys_key_of_any_other_length_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match=rf"decodes to {len(raw)} bytes, expected 32"):
        layouts.file_bytes(layouts.VOLUME_KEYS, layouts.stored_text(raw))


def test_rook_file_holds_the_stored_text_itself() -> None:
    text = layouts.stored_text(bytes(range(128)))

    assert layouts.file_bytes(layouts.ROOK, text) == text.encode()
    assert len(base64.b64decode(text)) == layouts.ROOK_KEY_BYTES


KEY32 = base64.b64encode(bytes(range(32))).decode()
ROOK128 = base64.b64encode(bytes(range(128))).decode()


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("", "is empty"),
        ("not base64!", "not standard base64"),
        ("Zm9v\n", "not standard base64"),
        (KEY32 + "\n", "not standard base64"),
        (" " + KEY32, "not standard base64"),
        (KEY32.rstrip("="), "not standard base64"),  # padding missing
        (base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(), "not standard base64"),
        ("AB==", "not canonical base64"),  # stray bits: AA== is the canonical text
        ("AQ==", "decodes to 1 bytes, expected 32"),
        (base64.b64encode(b"k" * 31).decode(), "decodes to 31 bytes, expected 32"),
        (base64.b64encode(b"k" * 33).decode(), "decodes to 33 bytes, expected 32"),
        ("ключ", "not ASCII"),
    ],
)
def test_unusable_volume_keys_values_are_refused_naming_the_reason_not_the_value(
    stored: str, reason: str
) -> None:
    with pytest.raises(ValueError, match="stored key") as caught:
        layouts.file_bytes(layouts.VOLUME_KEYS, stored)

    assert reason in str(caught.value)
    assert not stored or stored.strip() not in str(caught.value)


def test_rook_keys_must_be_what_rook_writes() -> None:
    assert layouts.file_bytes(layouts.ROOK, ROOK128) == ROOK128.encode()
    for stored in (KEY32, ROOK128 + "\n", ROOK128[:-4], base64.b64encode(b"x" * 129).decode()):
        with pytest.raises(ValueError, match="stored key"):
            layouts.file_bytes(layouts.ROOK, stored)


def test_a_rook_key_migrated_from_a_seed_is_accepted_as_exactly_the_seed() -> None:
    seed = base64.b64encode(b"s" * 64)  # an older or foreign key size, as Rook's Secret held it

    assert layouts.file_bytes(layouts.ROOK, seed.decode(), seed=seed) == seed
    with pytest.raises(ValueError, match="or exactly the seed"):
        layouts.file_bytes(layouts.ROOK, base64.b64encode(b"t" * 64).decode(), seed=seed)

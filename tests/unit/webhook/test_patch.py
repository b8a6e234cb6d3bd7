"""RFC 6901 escaping and the never-below-a-missing-parent rule of webhook.core.patch."""

from __future__ import annotations

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.core import patch


def test_escape_turns_tilde_into_tilde0_before_slash_into_tilde1() -> None:
    assert patch.escape("vault-storage-injector.io/status") == "vault-storage-injector.io~1status"
    assert patch.escape("a~/b") == "a~0~1b"
    assert patch.escape("~1") == "~01"


def test_pointer_escapes_every_segment_and_keeps_list_indexes() -> None:
    assert patch.pointer("metadata", "annotations", "x/y~z") == "/metadata/annotations/x~1y~0z"
    assert patch.pointer("spec", "containers", 3) == "/spec/containers/3"


@settings(max_examples=100)
@given(st.text(max_size=20))
def test_escaped_annotation_key_round_trips_through_a_real_json_patch(key: str) -> None:
    doc: dict[str, dict[str, dict[str, str]]] = {"metadata": {"annotations": {}}}
    out = jsonpatch.apply_patch(
        doc, [patch.add(patch.pointer("metadata", "annotations", key), "v")]
    )
    assert out["metadata"]["annotations"] == {key: "v"}


def test_append_items_adds_a_missing_list_whole() -> None:
    assert patch.append_items({}, "env", "/spec/containers/0", [{"name": "A"}]) == [
        {"op": "add", "path": "/spec/containers/0/env", "value": [{"name": "A"}]}
    ]


def test_append_items_appends_to_an_existing_list_one_by_one() -> None:
    ops = patch.append_items({"args": ["-c"]}, "args", "/spec", ["-x", "y"])
    assert ops == [
        {"op": "add", "path": "/spec/args/-", "value": "-x"},
        {"op": "add", "path": "/spec/args/-", "value": "y"},
    ]


def test_append_items_with_nothing_to_add_is_no_op() -> None:
    assert patch.append_items({}, "env", "/spec", []) == []


def test_insert_item_adds_missing_list_whole_and_inserts_at_index_otherwise() -> None:
    assert patch.insert_item({}, "initContainers", "/spec", 2, "c") == {
        "op": "add",
        "path": "/spec/initContainers",
        "value": ["c"],
    }
    assert patch.insert_item({"initContainers": ["a", "b"]}, "initContainers", "/spec", 1, "c") == {
        "op": "add",
        "path": "/spec/initContainers/1",
        "value": "c",
    }


def test_set_map_entries_adds_missing_map_whole_and_skips_equal_values() -> None:
    entries = [("k/1", "v")]
    assert patch.set_map_entries({}, "annotations", "/metadata", entries) == [
        {"op": "add", "path": "/metadata/annotations", "value": {"k/1": "v"}}
    ]
    assert (
        patch.set_map_entries({"annotations": {"k/1": "v"}}, "annotations", "/metadata", entries)
        == []
    )
    assert patch.set_map_entries(
        {"annotations": {"k/1": "w"}}, "annotations", "/metadata", entries
    ) == [{"op": "add", "path": "/metadata/annotations/k~11", "value": "v"}]

"""`webhook.admission.review`: parsing AdmissionReview v1, when to call the mutator, the answer."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook.admission.review import (
    MAX_WARNING_CHARS,
    build_response,
    clean_warning,
    decide,
    dump,
    parse_review,
)
from webhook.core.model import AdmissionContext, MutationResult
from webhook.errors import BadReview


def _review(**request_overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "apps", "version": "v1", "kind": "DaemonSet"},
        "resource": {"group": "apps", "version": "v1", "resource": "daemonsets"},
        "requestKind": {"group": "apps", "version": "v1", "kind": "DaemonSet"},
        "requestResource": {"group": "apps", "version": "v1", "resource": "daemonsets"},
        "name": "portworx",
        "namespace": "kube-system",
        "operation": "CREATE",
        "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
        "object": {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "px"}},
        "oldObject": None,
        "dryRun": False,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
    }
    request.update(request_overrides)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def test_a_review_as_the_apiserver_sends_it_parses_into_its_fields() -> None:
    review = parse_review(orjson.dumps(_review(dryRun=True)))
    assert review.uid == "705ab4f5-6393-11e8-b7cc-42010a800002"
    assert (review.group, review.version, review.kind) == ("apps", "v1", "DaemonSet")
    assert (review.namespace, review.name, review.operation) == (
        "kube-system",
        "portworx",
        "CREATE",
    )
    assert review.dry_run is True
    assert review.object == {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "px"},
    }


def test_a_cluster_scoped_object_without_name_or_namespace_parses() -> None:
    body = _review()
    del body["request"]["namespace"], body["request"]["name"], body["request"]["dryRun"]
    review = parse_review(orjson.dumps(body))
    assert (review.namespace, review.name, review.dry_run) == ("", "", False)


def _without(key: str) -> dict[str, Any]:
    body = _review()
    del body["request"][key]
    return body


BAD = [
    (b"", "empty-body"),
    (b"   \n", "empty-body"),
    (b'{"apiVersion": "admission.k8s.io/v1"', "not-json"),
    (b"\xff\xfe", "not-json"),
    (b"[]", "not-object"),
    (b"null", "not-object"),
    (orjson.dumps({**_review(), "kind": "Pod"}), "wrong-kind"),
    (orjson.dumps({**_review(), "apiVersion": "admission.k8s.io/v1beta1"}), "wrong-api-version"),
    (orjson.dumps({**_review(), "request": None}), "no-request"),
    (orjson.dumps(_without("uid")), "no-uid"),
    (orjson.dumps(_review(uid="")), "no-uid"),
    (orjson.dumps(_review(uid=7)), "bad-uid"),
    (orjson.dumps(_review(operation="PATCH")), "bad-operation"),
    (orjson.dumps(_without("operation")), "no-operation"),
    (orjson.dumps(_review(kind="DaemonSet")), "bad-kind"),
    (orjson.dumps(_review(object=[1])), "bad-object"),
    (orjson.dumps(_review(dryRun="yes")), "bad-dryrun"),
    (orjson.dumps(_review(namespace=3)), "bad-namespace"),
]


@pytest.mark.parametrize(("body", "reason"), BAD, ids=[reason for _, reason in BAD])
def test_an_unusable_body_is_refused_with_400_a_reason_and_one_line(
    body: bytes, reason: str
) -> None:
    with pytest.raises(BadReview) as caught:
        parse_review(body)
    assert caught.value.status == 400
    assert caught.value.reason == reason
    assert "\n" not in str(caught.value)


def test_the_refusal_names_the_field_not_the_value() -> None:
    with pytest.raises(BadReview) as caught:
        parse_review(orjson.dumps(_review(dryRun="s3cr3t")))
    assert "request.dryRun" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_KEYS = st.sampled_from(
    ["uid", "kind", "operation", "object", "namespace", "name", "dryRun", "oldObject", "userInfo"]
)


def _mutate_anything(obj: Mapping[str, Any], ctx: AdmissionContext) -> MutationResult:
    return MutationResult(
        outcome="mutated", reason="x", ops=[{"op": "add", "path": "/x", "value": 1}]
    )


def _check_never_5xx(body: bytes) -> None:
    try:
        review = parse_review(body)
    except BadReview as exc:
        status = exc.status
        assert 400 <= status < 500
        return
    answer = orjson.loads(dump(build_response(review.uid, decide(review, _mutate_anything).ops)))
    assert answer["response"]["uid"] == review.uid


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes_never_crash_the_parser(body: bytes) -> None:
    _check_never_5xx(body)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_KEYS, _JSON, max_size=9), st.sampled_from(["CREATE", "DELETE", None]))
def test_fuzz_any_request_fields_never_crash_the_parser(
    request: dict[str, Any], operation: str | None
) -> None:
    body = _review()
    body["request"].update(request)
    if operation is not None and "operation" not in request:
        body["request"]["operation"] = operation
    _check_never_5xx(json.dumps(body).encode())


@settings(max_examples=100, deadline=None)
@given(_JSON)
def test_fuzz_any_json_document_never_crashes_the_parser(document: Any) -> None:
    _check_never_5xx(json.dumps(document).encode())


class _Recorder:
    def __init__(self) -> None:
        self.contexts: list[AdmissionContext] = []

    def __call__(self, obj: Mapping[str, Any], ctx: AdmissionContext) -> MutationResult:
        self.contexts.append(ctx)
        return MutationResult(outcome="mutated", reason="r")


def test_decide_hands_the_mutator_the_request_context() -> None:
    recorder = _Recorder()
    review = parse_review(orjson.dumps(_review(dryRun=True)))
    decide(review, recorder, webhook_namespace="vsi")
    (ctx,) = recorder.contexts
    assert ctx == AdmissionContext(
        operation="CREATE",
        namespace="kube-system",
        group="apps",
        version="v1",
        kind="DaemonSet",
        dry_run=True,
        webhook_namespace="vsi",
        cluster=None,
    )


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"operation": "DELETE", "object": None}, "operation"),
        ({"operation": "CONNECT", "object": {"kind": "PodExecOptions"}}, "operation"),
        ({"object": None}, "no-object"),
    ],
)
def test_decide_skips_delete_connect_and_null_objects_without_calling_the_mutator(
    overrides: dict[str, Any], reason: str
) -> None:
    recorder = _Recorder()
    result = decide(parse_review(orjson.dumps(_review(**overrides))), recorder)
    assert (result.outcome, result.reason, tuple(result.ops)) == ("skipped", reason, ())
    assert recorder.contexts == []


def test_response_without_ops_omits_patch_and_patch_type() -> None:
    assert build_response("u1") == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "u1", "allowed": True},
    }


def test_response_with_ops_carries_a_base64_json_patch() -> None:
    ops = [{"op": "add", "path": "/metadata/annotations/a~1b", "value": "é"}]
    response = build_response("u2", ops)["response"]
    assert response["patchType"] == "JSONPatch"
    assert orjson.loads(base64.b64decode(response["patch"])) == ops


def test_a_refusal_carries_its_status_and_no_patch() -> None:
    response = build_response(
        "u3", [{"op": "add", "path": "/x", "value": 1}], allowed=False,
        status={"code": 500, "message": "m"},
    )["response"]  # fmt: skip
    assert response == {"uid": "u3", "allowed": False, "status": {"code": 500, "message": "m"}}


def test_build_response_does_not_change_the_ops_it_is_given() -> None:
    ops = [{"op": "add", "path": "/x", "value": {"a": [1]}}]
    before = copy.deepcopy(ops)
    build_response("u", ops)
    assert ops == before


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Warning: secret px-vault has no key VAULT_ADDR", "secret px-vault has no key VAULT_ADDR"),
        ("warning:   spaced", "spaced"),
        ("line one\nline two\ttab", "line one line two tab"),
        ("x" * 121, "x" * 117 + "..."),
        ("x" * 120, "x" * 120),
    ],
)
def test_warnings_lose_the_prefix_and_control_characters_and_fit_120_chars(
    raw: str, cleaned: str
) -> None:
    assert clean_warning(raw) == cleaned
    assert len(clean_warning(raw)) <= MAX_WARNING_CHARS


def test_empty_warnings_are_dropped_and_the_field_omitted() -> None:
    assert "warnings" not in build_response("u", warnings=["", "Warning:  "])["response"]
    assert build_response("u", warnings=["a", ""])["response"]["warnings"] == ["a"]


@given(st.text(max_size=400))
@settings(max_examples=100)
def test_any_warning_text_becomes_one_line_of_at_most_120_characters(text: str) -> None:
    cleaned = clean_warning(text)
    assert len(cleaned) <= MAX_WARNING_CHARS
    assert "\n" not in cleaned
    assert not cleaned.lower().startswith("warning:")

"""POST /mutate over real HTTPS with reviews shaped as the kube-apiserver sends them."""

from __future__ import annotations

import base64
import logging
import uuid

import orjson
import pytest

from tests.integration.webhook.conftest import Server, StartServer
from tests.integration.webhook.helpers import (
    ANNOTATION,
    admission_review,
    annotate_pods,
    apply_response,
    pod,
)
from webhook.core.model import AdmissionContext, MutationResult
from webhook.server.configreload import LoadedConfig


async def test_create_pod_gets_a_json_patch_that_applies_to_the_sent_object(
    server: Server,
) -> None:
    obj = pod()
    review = admission_review(obj)
    answer = await server.client.review(review)

    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == review["request"]["uid"]
    assert response["allowed"] is True
    assert response["patchType"] == "JSONPatch"
    assert orjson.loads(base64.b64decode(response["patch"])) == [
        {"op": "add", "path": "/metadata/annotations", "value": {ANNOTATION: "yes"}}
    ]
    expected = pod()
    expected["metadata"] = {**obj["metadata"], "annotations": {ANNOTATION: "yes"}}
    assert apply_response(obj, response) == expected


async def test_existing_annotations_are_kept_and_the_new_one_added(server: Server) -> None:
    obj = pod(**{"team.example/owner": "a"})
    answer = await server.client.review(admission_review(obj, operation="UPDATE", old_object=obj))
    mutated = apply_response(obj, answer["response"])
    assert mutated["metadata"]["annotations"] == {"team.example/owner": "a", ANNOTATION: "yes"}


async def test_no_ops_answer_omits_patch_and_patch_type(server: Server) -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    review = admission_review(config_map, kind="ConfigMap", name="c")
    answer = await server.client.review(review)
    assert answer["response"] == {"uid": review["request"]["uid"], "allowed": True}


@pytest.mark.parametrize(
    ("operation", "reason"), [("DELETE", "operation"), ("CONNECT", "operation")]
)
async def test_delete_and_connect_are_allowed_without_calling_the_mutator(
    start_server: StartServer, operation: str, reason: str
) -> None:
    calls: list[str] = []

    def counting(obj: object, ctx: AdmissionContext) -> MutationResult:
        calls.append(ctx.operation)
        return MutationResult(outcome="mutated", reason="x", ops=[{"op": "test", "path": ""}])

    server = await start_server(mutator_source=lambda _: LoadedConfig(mutator=counting))
    obj = pod()
    connect_options = {"kind": "PodExecOptions", "apiVersion": "v1", "command": ["sh"]}
    sent = None if operation == "DELETE" else connect_options
    review = admission_review(sent, operation=operation, old_object=obj)
    answer = await server.client.review(review)
    assert answer["response"] == {"uid": review["request"]["uid"], "allowed": True}
    assert calls == []
    assert (
        server.state.metrics.reviews.labels("Pod", operation, "skipped", reason)._value.get() == 1
    )


async def test_create_with_null_object_is_allowed_untouched(server: Server) -> None:
    review = admission_review(None)
    answer = await server.client.review(review)
    assert answer["response"] == {"uid": review["request"]["uid"], "allowed": True}


async def test_dry_run_gets_the_same_patch_as_a_real_request(server: Server) -> None:
    obj = pod()
    real = await server.client.review(admission_review(obj))
    dry = await server.client.review(admission_review(obj, dry_run=True))
    assert dry["response"]["patch"] == real["response"]["patch"]


async def test_warnings_are_at_most_120_characters_without_a_warning_prefix(
    server: Server,
) -> None:
    obj = pod()
    obj["metadata"]["labels"] = {"warn": "1"}
    answer = await server.client.review(admission_review(obj))
    (warning,) = answer["response"]["warnings"]
    assert len(warning) == 120
    assert warning.startswith("www")
    assert warning.endswith("...")


async def test_a_failing_mutator_refuses_the_object_logs_no_value_and_keeps_serving(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    review = admission_review(pod(name="boom"), name="boom")
    with caplog.at_level(logging.INFO):
        answer = await server.client.review(review)
    response = answer["response"]
    assert response["uid"] == review["request"]["uid"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 500
    assert "patch" not in response
    assert "secret-value-that-must-not-be-logged" not in caplog.text
    failure = [r for r in caplog.records if r.getMessage() == "mutation failed"]
    assert failure
    assert failure[0].vsi_fields["error_type"] == "ValueError"  # type: ignore[attr-defined]
    again = await server.client.review(admission_review(pod()))
    assert again["response"]["allowed"] is True


async def test_each_review_is_logged_once_with_its_identity_outcome_and_latency(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    uid = str(uuid.uuid4())
    obj = pod(name="web-1")
    obj["spec"]["containers"][0]["env"] = [{"name": "TOKEN", "value": "hunter2-not-for-logs"}]
    with caplog.at_level(logging.INFO, logger="webhook"):
        await server.client.review(admission_review(obj, uid=uid, name="web-1"))
    lines = [r for r in caplog.records if r.getMessage() == "review"]
    assert len(lines) == 1
    logged = lines[0].vsi_fields  # type: ignore[attr-defined]
    assert logged["uid"] == uid
    assert (logged["kind"], logged["namespace"], logged["name"]) == ("Pod", "team-a", "web-1")
    assert (logged["outcome"], logged["reason"]) == ("mutated", "annotated")
    assert logged["latency_ms"] >= 0
    assert "hunter2" not in caplog.text


async def test_concurrent_reviews_each_get_their_own_uid_back(server: Server) -> None:
    import asyncio

    reviews = [admission_review(pod(name=f"p{i}"), name=f"p{i}") for i in range(50)]
    answers = await asyncio.gather(*(server.client.review(r) for r in reviews))
    assert [a["response"]["uid"] for a in answers] == [r["request"]["uid"] for r in reviews]


def test_the_trivial_rule_used_here_is_what_the_tests_assume() -> None:
    ctx = AdmissionContext(operation="CREATE", namespace="a", group="", version="v1", kind="Pod")
    assert annotate_pods(pod(), ctx).outcome == "mutated"

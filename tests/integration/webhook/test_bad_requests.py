"""Requests the server must refuse with a clear one-line reason, and keep serving afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from tests.integration.webhook.conftest import Server
from tests.integration.webhook.helpers import SNI, admission_review, pod

_GOOD = admission_review(pod())
_NO_UID = admission_review(pod())
del _NO_UID["request"]["uid"]
_V1BETA1 = {**admission_review(pod()), "apiVersion": "admission.k8s.io/v1beta1"}

BAD_REQUESTS = [
    # (case, method, content type, body, status, reason label, words the message contains)
    ("empty body", "POST", "application/json", b"", 400, "empty-body", "empty body"),
    ("truncated JSON", "POST", "application/json", orjson.dumps(_GOOD)[:-7], 400, "not-json",
     "not valid JSON"),
    ("JSON array", "POST", "application/json", b"[1, 2]", 400, "not-object", "not a JSON object"),
    ("wrong apiVersion", "POST", "application/json", orjson.dumps(_V1BETA1), 400,
     "wrong-api-version", "admission.k8s.io/v1beta1"),
    ("no uid", "POST", "application/json", orjson.dumps(_NO_UID), 400, "no-uid",
     "request.uid is missing"),
    ("4 MiB body", "POST", "application/json", b"{" + b" " * (4 * 1024 * 1024) + b"}", 413,
     "too-large", "larger than"),
    ("GET", "GET", None, b"", 405, "method-not-allowed", "POST"),
    ("text/plain", "POST", "text/plain", orjson.dumps(_GOOD), 415, "unsupported-media-type",
     "application/json"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "content_type", "body", "status", "reason", "words"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
async def test_bad_request_gets_its_status_and_a_one_line_reason_and_the_server_keeps_serving(
    server: Server,
    method: str,
    content_type: str | None,
    body: bytes,
    status: int,
    reason: str,
    words: str,
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    async with server.client.session.request(
        method,
        f"{server.client.base}/mutate",
        data=body or None,
        headers=headers,
        server_hostname=SNI,
    ) as resp:
        text = await resp.text()
        assert resp.status == status
        if status == 405:
            assert resp.headers["Allow"] == "POST"
    assert text.endswith("\n")
    assert text.count("\n") == 1, text
    assert words in text
    assert "Traceback" not in text
    assert server.state.metrics.bad_requests.labels(reason)._value.get() == 1

    answer = await server.client.review(_GOOD)
    assert answer["response"]["allowed"] is True


async def test_a_body_of_exactly_3_mib_is_accepted(server: Server) -> None:
    review = admission_review(pod())
    raw = orjson.dumps(review)
    padded = raw[:-1] + b" " * (3 * 1024 * 1024 - len(raw)) + b"}"
    assert len(padded) == 3 * 1024 * 1024
    status, body = await server.client.post(padded)
    assert status == 200
    assert orjson.loads(body)["response"]["uid"] == review["request"]["uid"]


async def test_unknown_path_is_404(server: Server) -> None:
    status, _ = await server.client.get("/validate")
    assert status == 404


async def test_a_chunked_body_over_3_mib_without_length_gets_413(server: Server) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"{"
        for _ in range(64):
            yield b" " * 65536

    async with server.client.session.post(
        f"{server.client.base}/mutate",
        data=chunks(),
        headers={"Content-Type": "application/json"},
        server_hostname=SNI,
    ) as resp:
        assert resp.status == 413
        assert "larger than 3145728 bytes" in await resp.text()
    assert (await server.client.review(_GOOD))["response"]["allowed"] is True

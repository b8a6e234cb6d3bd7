"""The HTTP views: ``POST /mutate`` over `webhook.admission.review`, and the health endpoints.

The `mutate` view is the only place that turns `BadReview` and mutator failures into HTTP
answers. The admission path does no network I/O: it reads the body once, parses it once with
orjson, and calls a pure mutator over cached cluster state.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import StreamReader, hdrs, web

from vsi_common.logs import fields, info_line
from webhook.admission.review import Review, Status, build_response, decide, dump, parse_review
from webhook.core.model import MutationResult
from webhook.errors import BadReview
from webhook.server.httplog import framing_reason
from webhook.server.metrics import CONTENT_TYPE
from webhook.server.settings import ServeSettings
from webhook.server.state import STATE, WebhookState

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""A view, as an aiohttp middleware receives it."""

MUTATE_PATH = "/mutate"
"""AdmissionReview endpoint (POST, application/json)."""
HEALTHZ_PATH = "/healthz"
"""Liveness: 200 while the process serves HTTP."""
READYZ_PATH = "/readyz"
"""Readiness: 200 once certificate, profiles and caches are in place, else 503 and why."""
METRICS_PATH = "/metrics"
"""Prometheus text exposition."""
JSON = "application/json"
"""The only request content type /mutate accepts."""
IDENTITY = frozenset({"", "identity"})
"""The only ``Content-Encoding`` values accepted: the apiserver never compresses a review."""
ENCODING_MESSAGE = "Content-Encoding must be identity: compressed bodies are not accepted"
"""The 415 answer to a compressed body, which is refused without being read."""
BUSY_MESSAGE = "too many request bodies arriving at once: try again"
"""The 503 answer when the bodies in flight did not leave room within the read timeout."""
UNREAD_BODY_REASONS = frozenset(
    {
        "read-timeout",
        "too-large",
        "unsupported-encoding",
        "bodies-in-flight",
        "bad-chunked-encoding",
        "incomplete-body",
    }
)
"""Refusals that leave (part of) the body unread: the answer closes the connection."""
MUTATION_FAILED_MESSAGE = "the webhook could not mutate this object; see the webhook's logs"
"""What the apiserver shows a user when the mutator raised (the object is refused, fail closed)."""


class Answer(web.Response):
    """A response that lets go of its body once sent.

    aiohttp keeps a connection's last response until its next request arrives, and orjson's
    output holds a 64 KiB buffer whatever its length: without this, each idle keep-alive
    connection (the apiserver keeps several) would hold one.
    """

    async def write_eof(self, data: bytes = b"") -> None:
        await super().write_eof(data)
        self.body = None


def _check_head(request: web.Request, settings: ServeSettings) -> int | None:
    """The body's declared length, after `BadReview` for a wrong method, type, encoding or size."""
    if request.method != "POST":
        raise BadReview(
            f"{request.method} is not allowed: POST an AdmissionReview",
            status=405,
            reason="method-not-allowed",
        )
    # The exact header the apiserver sends skips aiohttp's media-type parsing.
    if request.headers.get(hdrs.CONTENT_TYPE) != JSON and request.content_type != JSON:
        raise BadReview(f"content type must be {JSON}", status=415, reason="unsupported-media-type")
    encoding = request.headers.get(hdrs.CONTENT_ENCODING)
    if encoding is not None and encoding.strip().lower() not in IDENTITY:
        raise BadReview(ENCODING_MESSAGE, status=415, reason="unsupported-encoding")
    length = request.content_length
    if length is not None and length > settings.max_body_bytes:
        raise _too_large(settings)
    return length


async def _read_body(request: web.Request, state: WebhookState) -> bytes:
    """The request body, or `BadReview` for a bad head (`_check_head`), a body that trickles, too
    many bodies arriving at once, or broken framing."""
    settings = state.settings
    length = _check_head(request, settings)
    content = request.content
    # Usually the whole body came with the headers: nothing to wait for, nothing to reserve.
    if content.is_eof():
        return await _read_all(content, length, settings)
    need = length if length is not None else settings.max_body_bytes
    reserved = False
    try:
        async with asyncio.timeout(settings.read_timeout):
            await state.bodies.take(need)
            reserved = True
            return await _read_all(content, length, settings)
    except TimeoutError:
        if not reserved:
            raise BadReview(BUSY_MESSAGE, status=503, reason="bodies-in-flight") from None
        raise BadReview(
            f"body not received within {settings.read_timeout:g} s",
            status=408,
            reason="read-timeout",
        ) from None
    except (web.RequestPayloadError, asyncio.IncompleteReadError, ConnectionError) as exc:
        # A framing error, or the client went away before the whole body arrived.
        reason, description = framing_reason(exc) or ("incomplete-body", "body cut short")
        raise BadReview(description, status=400, reason=reason) from None
    finally:
        if reserved:
            state.bodies.give_back(need)


async def _read_all(content: StreamReader, length: int | None, settings: ServeSettings) -> bytes:
    """The whole body, taken from the stream: ``request.read()`` would keep a copy on the request,
    which aiohttp holds until the connection's next request (for every idle keep-alive one)."""
    if length is not None:
        # aiohttp's empty stream refuses even readexactly(0).
        return await content.readexactly(length) if length else b""
    chunks = []
    size = 0
    while chunk := await content.readany():
        size += len(chunk)
        if size > settings.max_body_bytes:
            raise _too_large(settings)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(settings: ServeSettings) -> BadReview:
    return BadReview(
        f"body larger than {settings.max_body_bytes} bytes", status=413, reason="too-large"
    )


def _refuse(request: web.Request, state: WebhookState, exc: BadReview) -> web.Response:
    state.metrics.bad_request(exc.reason)
    log.warning(
        "bad request",
        extra=fields(status=exc.status, reason=exc.reason, error=str(exc), peer=request.remote),
    )
    response = web.Response(status=exc.status, text=f"{exc}\n")
    if exc.status == 405:
        response.headers["Allow"] = "POST"
    if exc.reason in UNREAD_BODY_REASONS:
        response.force_close()
    return response


def _failure_fields(exc: BaseException) -> dict[str, str]:
    """Where a mutator failed, without its message (which could quote object values)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return {"error_type": type(exc).__name__, "where": where}


async def mutate(request: web.Request) -> web.Response:
    """``POST /mutate``: one AdmissionReview in, its answer out."""
    started = time.perf_counter()
    state = request.app[STATE]
    state.in_flight += 1
    try:
        return await _answer(request, state, started)
    finally:
        state.request_done()


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every view runs inside: its connection counts as busy until the handler returns (so the
    shutdown does not close it as idle), and once shutting down the answer closes it."""
    state = request.app[STATE]
    slot = state.connections.get(request.protocol)
    if slot is not None:
        slot.request_started()
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # aiohttp's own answers (404, ...), raised
        if state.shutting_down:
            exc.force_close()
        raise
    finally:
        if slot is not None:
            slot.request_done()
    if state.shutting_down:
        response.force_close()
    return response


async def _answer(request: web.Request, state: WebhookState, started: float) -> web.Response:
    try:
        review = parse_review(await _read_body(request, state))
    except BadReview as exc:
        return _refuse(request, state, exc)
    try:
        result = decide(
            review,
            state.config.mutator,
            webhook_namespace=state.settings.webhook_namespace,
            cluster=state.cluster,
        )
        body = dump(build_response(review.uid, result.ops, result.warnings))
        outcome: str = result.outcome
        reason = result.reason
    except Exception as exc:
        log.error("mutation failed", extra=fields(uid=review.uid, **_failure_fields(exc)))
        status: Status = {"code": 500, "message": MUTATION_FAILED_MESSAGE}
        body = dump(build_response(review.uid, allowed=False, status=status))
        result = None
        outcome, reason = "error", "mutation-failed"
    elapsed = time.perf_counter() - started
    state.metrics.review(
        kind=review.kind,
        operation=review.operation,
        outcome=outcome,
        reason=reason,
        seconds=elapsed,
    )
    if result is not None and result.insecure is not None and result.profile is not None:
        state.metrics.insecure_mutation(result.profile)
    _log_review(review, outcome, reason, elapsed, result)
    return Answer(body=body, content_type=JSON)


def _log_review(
    review: Review, outcome: str, reason: str, elapsed: float, result: MutationResult | None
) -> None:
    info_line(
        log,
        "review",
        {
            "uid": review.uid,
            "kind": review.kind,
            "namespace": review.namespace,
            "name": review.name,
            "operation": review.operation,
            "dry_run": review.dry_run,
            "outcome": outcome,
            "reason": reason,
            "profile": result.profile if result is not None else None,
            "patch_ops": len(result.ops) if result is not None else 0,
            "warnings": len(result.warnings) if result is not None else 0,
            "latency_ms": round(elapsed * 1000, 3),
        },
    )


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: the process serves HTTP."""
    return web.Response(text="ok\n")


def readiness_checks(state: WebhookState) -> list[tuple[str, str | None, str]]:
    """``(check, failure or None, detail)`` for the certificate, the profiles and the caches."""
    cert_problem = state.tls.readiness()
    current = state.tls.current
    cert_detail = f"serial {current.serial:x}" if current is not None else ""
    config_problem = state.config.readiness()
    config_error = state.config.last_error
    config_detail = (
        f"last change refused, previous profiles in use: {config_error}" if config_error else ""
    )
    if not state.cluster_started:
        cache_problem: str | None = "caches not started yet"
        cache_detail = ""
    elif state.cluster is None:
        cache_problem, cache_detail = None, "off: namespaceSelector trusted, Secret warnings off"
    elif not state.cluster.is_synced():
        cache_problem, cache_detail = "caches not synced yet", ""
    else:
        cache_problem, cache_detail = None, "synced"
    shutdown_problem = "shutting down" if state.shutting_down else None
    return [
        ("shutdown", shutdown_problem, ""),
        ("certificate", cert_problem, cert_detail),
        ("profiles", config_problem, config_detail),
        ("caches", cache_problem, cache_detail),
    ]


async def readyz(request: web.Request) -> web.Response:
    """``GET /readyz``: 200 when every check passes, else 503; one line per check either way."""
    checks = readiness_checks(request.app[STATE])
    lines = []
    ready = True
    for name, problem, detail in checks:
        if problem is None:
            lines.append(f"[+]{name} ok" + (f" ({detail})" if detail else ""))
        else:
            ready = False
            lines.append(f"[-]{name} failed: {problem}")
    lines.append("readyz check passed" if ready else "readyz check failed")
    return web.Response(status=200 if ready else 503, text="\n".join(lines) + "\n")


async def metrics_view(request: web.Request) -> web.Response:
    """``GET /metrics``: the Prometheus text format."""
    body = request.app[STATE].metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

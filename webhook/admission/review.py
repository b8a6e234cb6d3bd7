"""The AdmissionReview ``admission.k8s.io/v1`` protocol: parse and validate a request, build a
response.

This is the layer between the HTTP shell (`webhook.server.app`) and the pure mutation
(`webhook.core.model.Mutator`): the body is parsed once into a frozen `Review` (or refused with
`BadReview` carrying the HTTP status and a short machine reason), `decide` calls the mutator only
when there is something to mutate, and `build_response` turns the result into the exact answer the
kube-apiserver expects. Nothing here does I/O; messages name fields, never their values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import orjson
import pybase64

from webhook.core import constants as c
from webhook.core.model import (
    AdmissionContext,
    ClusterView,
    JsonObject,
    MutationResult,
    Mutator,
    PatchOp,
)
from webhook.errors import BadReview

API_VERSION = "admission.k8s.io/v1"
"""The only AdmissionReview version served (v1beta1 was removed in Kubernetes 1.22)."""
KIND = "AdmissionReview"
"""``kind`` of both the request and the response."""
PATCH_TYPE = "JSONPatch"
"""The only patch type the apiserver accepts."""
OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
"""Values of ``request.operation``."""
MUTATED_OPERATIONS = frozenset({"CREATE", "UPDATE"})
"""Operations whose object the mutator sees; DELETE and CONNECT are allowed untouched."""
MAX_WARNING_CHARS = 120
"""The apiserver truncates longer warnings; we shorten them ourselves, with an ellipsis."""
MAX_WARNINGS = 20
"""Warnings kept per response; more are dropped so a response stays small."""

_WARNING_PREFIX = re.compile(r"^\s*warning:\s*", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class Status(TypedDict, total=False):
    code: int
    message: str
    reason: str


class AdmissionResponse(TypedDict):
    uid: str
    allowed: bool
    patchType: NotRequired[str]
    patch: NotRequired[str]
    warnings: NotRequired[list[str]]
    status: NotRequired[Status]


class AdmissionReviewResponse(TypedDict):
    apiVersion: str
    kind: str
    response: AdmissionResponse


@dataclass(frozen=True)
class Review:
    """The parts of a validated AdmissionReview request the webhook uses."""

    uid: str
    operation: str
    group: str
    version: str
    kind: str
    namespace: str
    """"" for cluster-scoped objects."""
    name: str
    """"" when the apiserver has not assigned one yet (generateName)."""
    object: JsonObject | None
    """The new object; None for DELETE (and possibly CONNECT)."""
    dry_run: bool


def _bad(message: str, reason: str, status: int = 400) -> BadReview:
    return BadReview(message, status=status, reason=reason)


def _string(data: Mapping[str, Any], key: str, where: str, *, required: bool) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise _bad(f"{where}.{key} is missing", f"no-{key.lower()}")
        return ""
    if not isinstance(value, str):
        raise _bad(f"{where}.{key} is not a string", f"bad-{key.lower()}")
    return value


def parse_review(body: bytes) -> Review:
    """Parse and validate one AdmissionReview request body.

    Raises `BadReview` (HTTP 400) with a one-line message naming the field and a short reason
    such as ``not-json``, ``wrong-api-version`` or ``no-uid``.
    """
    if not body or body.isspace():
        raise _bad("empty body: expected an AdmissionReview JSON object", "empty-body")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _bad("body is not valid JSON", "not-json") from None
    if not isinstance(data, dict):
        raise _bad("body is not a JSON object: expected an AdmissionReview", "not-object")
    kind = data.get("kind")
    if kind != KIND:
        raise _bad(f"kind is not {KIND}", "wrong-kind")
    api_version = data.get("apiVersion")
    if api_version != API_VERSION:
        shown = api_version if isinstance(api_version, str) and len(api_version) <= 40 else "?"
        raise _bad(
            f"apiVersion {shown!r} is not served: use {API_VERSION} "
            "(admissionReviewVersions: [v1])",
            "wrong-api-version",
        )
    request = data.get("request")
    if not isinstance(request, dict):
        raise _bad("request is missing or not an object", "no-request")
    uid = _string(request, "uid", "request", required=True)
    if not uid:
        raise _bad("request.uid is empty", "no-uid")
    operation = _string(request, "operation", "request", required=True)
    if operation not in OPERATIONS:
        raise _bad("request.operation is not CREATE, UPDATE, DELETE or CONNECT", "bad-operation")
    gvk = request.get("kind")
    if not isinstance(gvk, dict):
        raise _bad("request.kind is missing or not an object", "bad-kind")
    group = _string(gvk, "group", "request.kind", required=False)
    version = _string(gvk, "version", "request.kind", required=True)
    kind_name = _string(gvk, "kind", "request.kind", required=True)
    obj = request.get("object")
    if obj is not None and not isinstance(obj, dict):
        raise _bad("request.object is not an object", "bad-object")
    dry_run = request.get("dryRun", False)
    if dry_run is None:
        dry_run = False
    if not isinstance(dry_run, bool):
        raise _bad("request.dryRun is not a boolean", "bad-dryrun")
    return Review(
        uid=uid,
        operation=operation,
        group=group,
        version=version,
        kind=kind_name,
        namespace=_string(request, "namespace", "request", required=False),
        name=_string(request, "name", "request", required=False),
        object=obj,
        dry_run=dry_run,
    )


def decide(
    review: Review,
    mutator: Mutator,
    *,
    webhook_namespace: str | None = None,
    cluster: ClusterView | None = None,
) -> MutationResult:
    """Call the mutator for a CREATE or UPDATE with an object; allow anything else untouched.

    Exceptions from the mutator propagate: the HTTP view decides what they become.
    """
    if review.operation not in MUTATED_OPERATIONS:
        return MutationResult(outcome="skipped", reason=c.SKIP_OPERATION)
    if review.object is None:
        return MutationResult(outcome="skipped", reason=c.SKIP_NO_OBJECT)
    ctx = AdmissionContext(
        operation=review.operation,
        namespace=review.namespace,
        group=review.group,
        version=review.version,
        kind=review.kind,
        dry_run=review.dry_run,
        webhook_namespace=webhook_namespace,
        cluster=cluster,
    )
    return mutator(review.object, ctx)


def clean_warning(text: str) -> str:
    """One warning as the apiserver shows it best: one line, no "Warning:" prefix, <= 120 chars."""
    text = _CONTROL.sub(" ", _WARNING_PREFIX.sub("", text)).strip()
    if len(text) > MAX_WARNING_CHARS:
        text = text[: MAX_WARNING_CHARS - 3].rstrip() + "..."
    return text


def build_response(
    uid: str,
    ops: Sequence[PatchOp] = (),
    warnings: Sequence[str] = (),
    *,
    allowed: bool = True,
    status: Status | None = None,
) -> AdmissionReviewResponse:
    """The AdmissionReview answer for ``uid``.

    A non-empty ``ops`` becomes ``patchType: JSONPatch`` and a base64 JSON array; no ops omits both.
    Warnings are cleaned with `clean_warning`; empty ones are dropped.
    """
    response: AdmissionResponse = {"uid": uid, "allowed": allowed}
    if ops and allowed:
        response["patchType"] = PATCH_TYPE
        # pybase64 (SIMD) encodes a few-KB patch about 9x faster than the standard library.
        response["patch"] = pybase64.b64encode_as_string(orjson.dumps(ops))
    if warnings:
        cleaned = [w for w in (clean_warning(w) for w in warnings[:MAX_WARNINGS]) if w]
        if cleaned:
            response["warnings"] = cleaned
    if status is not None:
        response["status"] = status
    return {"apiVersion": API_VERSION, "kind": KIND, "response": response}


def dump(review: AdmissionReviewResponse) -> bytes:
    """The response body."""
    return orjson.dumps(review)

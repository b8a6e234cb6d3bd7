"""The double's authentication endpoints: TokenRequest and TokenReview (see `doubles.kubeapi`).

``POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`` answers a JWT that
`doubles.tokenreview.TokenReviewer` issues for that service account (404 when it does not exist,
403 when `KubeApi.forbid` or `KubeApi.authorizer` says so); ``POST
/apis/authentication.k8s.io/v1/tokenreviews`` authenticates exactly those JWTs, for OpenBao's
kubernetes auth. Both are logged in `KubeApi.requests` as ``create`` requests.
"""

from __future__ import annotations

from aiohttp import web

from doubles.kubeapi import (
    RESOURCES,
    TOKEN,
    TOKEN_REVIEWS,
    TOKEN_SUBRESOURCE,
    KubeApi,
    Seen,
    _forbidden,
    _status,
)
from doubles.tokenreview import API_AUDIENCES


async def authentication(
    api: KubeApi, request: web.Request, namespace: str | None, parts: list[str]
) -> web.Response:
    """TokenRequest (``serviceaccounts/<name>/token``) and TokenReview, logged like the rest."""
    token_request = parts[0] == "serviceaccounts"
    resource = TOKEN_SUBRESOURCE if token_request else TOKEN_REVIEWS
    name = parts[1] if token_request else None
    if request.method != "POST":
        response = _status(405, "MethodNotAllowed", f"{request.method} is not supported here")
    elif token_request:
        response = await _token_request(api, request, namespace, parts[1])
    else:
        response = await _token_review(api, request)
    api.requests.append(
        Seen(
            verb="create",
            resource=resource,
            namespace=namespace,
            name=name,
            method=request.method,
            path=request.path,
            query=dict(request.query),
            status=response.status,
            authorization=request.headers.get("Authorization"),
        )
    )
    return response


async def _token_request(
    api: KubeApi, request: web.Request, namespace: str | None, account: str
) -> web.Response:
    """A JWT of the service account, if it exists and the caller may ask for it."""
    accounts = RESOURCES["serviceaccounts"]
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return _status(401, "Unauthorized", "Unauthorized")
    denied = {("create", TOKEN_SUBRESOURCE, namespace), ("create", TOKEN_SUBRESOURCE, None)}
    if denied & api.denied or (
        api.authorizer is not None
        and not api.authorizer("create", TOKEN_SUBRESOURCE, namespace, account)
    ):
        return _forbidden("create", accounts, namespace, account, subresource="token")
    if namespace is None or ("serviceaccounts", namespace, account) not in api.objects:
        return _status(404, "NotFound", f'serviceaccounts "{account}" not found', accounts, account)
    body = await request.json()
    spec = body.get("spec") or {}
    audiences = tuple(spec.get("audiences") or API_AUDIENCES)
    api.issued.append((namespace, account, audiences))
    jwt = api.reviewer.jwt(namespace, account, audiences=audiences)
    answer = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": {"name": account, "namespace": namespace, "creationTimestamp": None},
        "spec": {
            "audiences": list(audiences),
            "expirationSeconds": spec.get("expirationSeconds", 3600),
            "boundObjectRef": None,
        },
        "status": {"token": jwt, "expirationTimestamp": "2030-01-01T00:00:00Z"},
    }
    return web.json_response(answer, status=201)


async def _token_review(api: KubeApi, request: web.Request) -> web.Response:
    """Whether a JWT is one of ours (the caller: the double's token or one of its JWTs)."""
    caller = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if caller != TOKEN and caller not in api.reviewer.known:
        return _status(401, "Unauthorized", "Unauthorized")
    body = await request.json()
    spec = body.get("spec") or {}
    answer = api.reviewer.answer(spec.get("token", ""), spec.get("audiences"))
    return web.json_response(answer, status=201)

"""A Kubernetes TokenReview endpoint on kmock, and the service-account JWTs it knows.

OpenBao's kubernetes auth sends every login's JWT to ``POST
/apis/authentication.k8s.io/v1/tokenreviews`` of its ``kubernetes_host``, authenticated with the
reviewer JWT it was configured with (or, without one, with the client's own JWT). `TokenReviewer`
answers those reviews for the JWTs it issued and records who asked, so a test can check both the
login and how Vault was configured. The JWTs carry the claims of a projected service-account
token; nothing verifies their signature (the double is the authority). Use it on a plain kmock
(``pytest.mark.kmock(cls=kmock.RawHandler)``): kmock's Kubernetes emulator stores every posted
TokenReview and answers the second one with 409 AlreadyExists.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import kmock

REVIEWS = "post /apis/authentication.k8s.io/v1/tokenreviews"
"""kmock's criteria for TokenReview requests."""
ISSUER = "https://kubernetes.default.svc.cluster.local"
"""The ``iss`` claim of every JWT issued here (what ``/.well-known/openid-configuration`` says)."""
API_AUDIENCES = (ISSUER,)
"""The API server's own audiences: the ``aud`` of a token minted without an audience (the
kubelet's default ``kube-api-access`` token), and what a review that names none is checked for."""


def _b64url(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def service_account_jwt(
    namespace: str,
    name: str,
    uid: str,
    *,
    issuer: str = ISSUER,
    audiences: tuple[str, ...] = API_AUDIENCES,
) -> str:
    """A JWT-shaped token with the claims of a projected service-account token (unsigned)."""
    claims: dict[str, Any] = {"aud": list(audiences)} if audiences else {}
    claims |= {
        "iss": issuer,
        "sub": f"system:serviceaccount:{namespace}:{name}",
        "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
    }
    return ".".join([_b64url({"alg": "RS256", "kid": "test"}), _b64url(claims), "c2ln"])


def review_answer(
    found: tuple[str, str, str] | None, audiences: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The TokenReview the apiserver answers for a token of (namespace, name, uid), or for one it
    does not authenticate (None); ``audiences``: those of the review the token holds."""
    status: dict[str, Any] = {"authenticated": found is not None}
    if found is not None:
        namespace, name, uid = found
        if audiences:
            status["audiences"] = list(audiences)
        status["user"] = {
            "username": f"system:serviceaccount:{namespace}:{name}",
            "uid": uid,
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
        }
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status}


@dataclass
class TokenReviewer:
    """The TokenReview double: issue JWTs for service accounts, then answer for them."""

    known: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    """JWT -> (namespace, service account, uid)."""
    audiences: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """JWT -> its ``aud`` claim."""
    asked: list[tuple[str, ...] | None] = field(default_factory=list)
    """The ``spec.audiences`` of each review (None: the review named none)."""
    delegators: set[tuple[str, str]] | None = None
    """Service accounts (namespace, name) bound to ``system:auth-delegator``: only their JWTs
    may review (403 for any other caller, as the apiserver answers); None: anyone may."""

    def jwt(
        self,
        namespace: str,
        name: str,
        *,
        issuer: str = ISSUER,
        audiences: tuple[str, ...] = API_AUDIENCES,
    ) -> str:
        """A JWT of ``namespace/name`` for ``audiences`` (default the API server's, as the
        kubelet's default token) that the double will authenticate for those audiences."""
        uid = str(uuid.uuid4())
        token = service_account_jwt(namespace, name, uid, issuer=issuer, audiences=audiences)
        self.known[token] = (namespace, name, uid)
        self.audiences[token] = audiences
        return token

    def install(self, emulator: kmock.RawHandler) -> None:
        """Answer TokenReviews on ``emulator``."""
        emulator[REVIEWS] << self._review

    def _review(self, request: kmock.Request) -> kmock.Response:
        # Always a Response with its status: kmock keeps the status of an earlier answer.
        headers = {k.lower(): v for k, v in request.headers.items()}
        caller = self.known.get(headers.get("authorization", "").removeprefix("Bearer "))
        if self.delegators is not None and (caller is None or caller[:2] not in self.delegators):
            forbidden = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403}
            return kmock.Response(status=403, payload=forbidden)
        spec = request.data["spec"]
        return kmock.Response(status=200, payload=self.answer(spec["token"], spec.get("audiences")))

    def answer(self, token: str, asked: list[str] | None) -> dict[str, Any]:
        """The TokenReview answer for ``token`` reviewed for ``asked`` (``spec.audiences``),
        with the API server's rule: the token's aud must hold one of the audiences asked for
        (its own when the review names none), otherwise it is not authenticated."""
        self.asked.append(tuple(asked) if asked else None)
        wanted = tuple(asked) if asked else API_AUDIENCES
        held = tuple(a for a in wanted if a in self.audiences.get(token, ()))
        return review_answer(self.known.get(token) if held else None, held)


def reviewers(emulator: kmock.RawHandler) -> list[str]:
    """The bearer token each TokenReview so far was sent with (who did the reviewing)."""
    out = []
    for request in emulator[REVIEWS]:
        auth = {k.lower(): v for k, v in request.headers.items()}.get("authorization", "")
        out.append(auth.removeprefix("Bearer "))
    return out

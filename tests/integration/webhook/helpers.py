"""Building blocks of the webhook server tests: apiserver-shaped reviews, a trivial mutator, and a
client that verifies the server as the kube-apiserver does (CA bundle, SNI ``<svc>.<ns>.svc``)."""

from __future__ import annotations

import asyncio
import base64
import copy
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jsonpatch
import orjson
from cryptography import x509

from webhook.core.model import AdmissionContext, MutationResult
from webhook.server.configreload import LoadedConfig, ProfilesFile

SERVICE = "vault-storage-injector"
NAMESPACE = "vsi-system"
SNI = f"{SERVICE}.{NAMESPACE}.svc"
ANNOTATION = "example.com/touched"
"""What the trivial test mutator adds to every Pod."""


def pod(name: str = "app", namespace: str = "team-a", **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": str(uuid.uuid4())}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]},
    }


_GVR = {
    "Pod": ("", "v1", "pods"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "ConfigMap": ("", "v1", "configmaps"),
    "StorageCluster": ("core.libopenstorage.org", "v1", "storageclusters"),
}


def admission_review(
    obj: Mapping[str, Any] | None,
    *,
    operation: str = "CREATE",
    kind: str = "Pod",
    namespace: str = "team-a",
    name: str = "app",
    old_object: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    uid: str | None = None,
) -> dict[str, Any]:
    """An AdmissionReview request with every field the kube-apiserver sends."""
    group, version, resource = _GVR[kind]
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": resource}
    options_kind = {
        "CREATE": "CreateOptions",
        "UPDATE": "UpdateOptions",
        "DELETE": "DeleteOptions",
        "CONNECT": "PodExecOptions",
    }[operation]
    return {
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": uid or str(uuid.uuid4()),
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": name,
            "namespace": namespace,
            "operation": operation,
            "userInfo": {
                "username": "system:serviceaccount:kube-system:replicaset-controller",
                "uid": str(uuid.uuid4()),
                "groups": ["system:serviceaccounts", "system:authenticated"],
            },
            "object": obj,
            "oldObject": old_object,
            "dryRun": dry_run,
            "options": {"kind": options_kind, "apiVersion": "meta.k8s.io/v1"},
        },
    }


def annotate_pods(obj: Mapping[str, Any], ctx: AdmissionContext) -> MutationResult:
    """The test rule: every Pod gets `ANNOTATION`; a label ``warn`` adds a long warning; a Pod
    named ``boom`` makes the mutator raise (with a value in the message that must not be logged)."""
    meta = obj.get("metadata") or {}
    if meta.get("name") == "boom":
        raise ValueError("secret-value-that-must-not-be-logged")
    if ctx.kind != "Pod":
        return MutationResult(outcome="skipped", reason="not-a-pod")
    annotations = meta.get("annotations")
    if annotations is None:
        op = {"op": "add", "path": "/metadata/annotations", "value": {ANNOTATION: "yes"}}
    else:
        op = {"op": "add", "path": "/metadata/annotations/example.com~1touched", "value": "yes"}
    warnings = ["Warning: " + "w" * 200] if (meta.get("labels") or {}).get("warn") else []
    return MutationResult(outcome="mutated", reason="annotated", ops=[op], warnings=warnings)


def annotate_loader(file: ProfilesFile | None) -> LoadedConfig:
    return LoadedConfig(mutator=annotate_pods)


def apply_response(obj: Mapping[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
    """The object after the review's patch (unchanged when there is none)."""
    if "patch" not in response:
        return copy.deepcopy(dict(obj))
    assert response["patchType"] == "JSONPatch"
    ops = orjson.loads(base64.b64decode(response["patch"]))
    result: dict[str, Any] = jsonpatch.apply_patch(dict(obj), ops)
    return result


def client_context(ca: Path) -> ssl.SSLContext:
    """What the apiserver does: verify against the caBundle, hostname checked against SNI."""
    return ssl.create_default_context(cafile=str(ca))


@dataclass
class Client:
    """Talks to a running server over verified HTTPS."""

    session: aiohttp.ClientSession
    port: int
    ca: Path

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def post(
        self, body: bytes, *, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        async with self.session.post(
            f"{self.base}/mutate",
            data=body,
            headers={"Content-Type": content_type},
            server_hostname=SNI,
        ) as resp:
            return resp.status, await resp.read()

    async def review(self, review: Mapping[str, Any]) -> dict[str, Any]:
        status, body = await self.post(orjson.dumps(review))
        assert status == 200, body
        answer: dict[str, Any] = orjson.loads(body)
        return answer

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(f"{self.base}{path}", server_hostname=SNI) as resp:
            return resp.status, await resp.text()

    async def served_serial(self) -> int:
        """Serial of the certificate a new TLS handshake gets."""
        context = client_context(self.ca)
        _, writer = await asyncio.open_connection(
            "127.0.0.1", self.port, ssl=context, server_hostname=SNI
        )
        try:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        finally:
            writer.close()
            await writer.wait_closed()
        return x509.load_der_x509_certificate(der).serial_number


def file_serial(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


async def wait_for(
    check: Callable[[], Awaitable[bool]], *, timeout: float, what: str, step: float = 0.1
) -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(step)


async def listener_closed(port: int, *, timeout: float) -> None:
    """Wait until connecting to ``port`` on loopback is refused (the server stopped listening)."""

    async def refused() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return True
        writer.close()
        return False

    await wait_for(refused, timeout=timeout, what=f"port {port} to stop listening", step=0.01)

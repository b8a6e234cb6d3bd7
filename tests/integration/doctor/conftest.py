"""A healthy install on the Kubernetes API double, wired to the real OpenBao, for the doctor.

`healthy` builds what a cluster admin would have after following docs/install.md: the objects of
``kubectl kustomize manifests/base`` (the webhook's namespace, Service, profiles ConfigMap and
MutatingWebhookConfiguration), the certificates and caBundle written by the real ``vsi-certs
bootstrap``, two ready endpoints, a Rook namespace with its connection Secret (kubernetes auth
over HTTPS, the CA in a ``tlsSecret``) and an OSD pod injected by the webhook's own mutator, and
a Portworx namespace with a token-auth ``px-vault`` and an injected DaemonSet. OpenBao's
kubernetes auth reviews tokens at the double, so a TokenRequest's JWT logs in for real. The
doctor runs as a process (``python -m webhook doctor``), on the test's event loop's double.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import jsonpatch
import pytest

from certs.bootstrap import run as bootstrap
from certs.plan import make_settings
from demo.openbao import OpenBao
from doubles.kubeapi import RESOURCES, TOKEN, KubeApi, serve_kubeapi
from tests.integration.injector.check_support import leak_forms
from tests.integration.manifests.conftest import MANIFESTS, kustomize
from tests.reports import ChecksByName
from webhook.core import constants as c
from webhook.core.config import parse_config
from webhook.core.model import AdmissionContext
from webhook.core.mutation import build_mutator
from webhook.doctor.state import CHECK_NAMES

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden"
WEBHOOK_NS = "vault-storage-injector"
ROOK_NS = "rook-ceph"
PX_NS = "portworx"
OSD_PVC = "set1-data-0-8n462"
OSD_POD = "rook-ceph-osd-0-6d8b7c9f5-x7k2p"
OSD_SA = "rook-ceph-osd"
SEED_SECRET = f"rook-ceph-osd-encryption-key-{OSD_PVC}"
ROLE = "osd"
RUN_TIMEOUT = 90.0
BOOTSTRAP = make_settings(
    namespace=WEBHOOK_NS,
    service="vault-storage-injector",
    secret="vault-storage-injector-tls",
    webhook_config="vault-storage-injector",
    ca_secret="vault-storage-injector-ca",
)
"""The flags of the bootstrap Job and the rotation CronJob of manifests/base."""
CONFIG_TEXT = """\
builtinProfiles: true
profiles:
  - name: rook-osd
    type: rook-osd
    connection: {secret: rook-vault, tlsSecret: vault-tls}
  - name: portworx
    type: portworx
    connection: {secret: px-vault, tlsSecret: vault-tls}
"""
"""The profiles of the healthy install: both connections over HTTPS, the CA in a tlsSecret."""


async def run_doctor(kubeconfig: Path, *args: str) -> tuple[int, str, str]:
    """``python -m webhook doctor --kubeconfig KUBECONFIG ARGS`` as a process, outside any pod:
    exit code, stdout, stderr."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KUBERNETES_SERVICE_HOST", "KUBECONFIG", "POD_NAMESPACE")
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "webhook",
        "doctor",
        "--kubeconfig",
        str(kubeconfig),
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _secret(namespace: str, name: str, data: dict[str, str | bytes]) -> dict[str, Any]:
    encoded = {
        k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode()
        for k, v in data.items()
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": encoded,
    }


def _namespace(name: str, enabled: bool) -> dict[str, Any]:
    labels = {"kubernetes.io/metadata.name": name}
    if enabled:
        labels["vault-storage-injector.io/enabled"] = "true"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def _golden_object(case: str) -> dict[str, Any]:
    review = json.loads((GOLDEN / case / "request.json").read_text())
    obj: dict[str, Any] = review["request"]["object"]
    return obj


def _injected(obj: dict[str, Any], group: str, kind: str, operation: str) -> dict[str, Any]:
    """``obj`` as the webhook leaves it (its own mutator, the healthy install's profiles)."""
    mutator = build_mutator(parse_config(CONFIG_TEXT, source="test"))
    ctx = AdmissionContext(
        operation=operation,
        namespace=obj["metadata"]["namespace"],
        group=group,
        version="v1",
        kind=kind,
        assume_namespace_enabled=True,
    )
    result = mutator(obj, ctx)
    assert result.outcome == "mutated", result
    patched: dict[str, Any] = jsonpatch.apply_patch(obj, list(result.ops))
    return patched


@dataclass(frozen=True)
class Doctored(ChecksByName):
    """One finished ``vsi-webhook doctor -o json`` run and its checks by name."""

    code: int
    stdout: str
    stderr: str
    checks: dict[str, dict[str, str]]

    def failing(self) -> list[str]:
        return [n for n, c in self.checks.items() if c["status"] == "fail"]

    def warning(self) -> list[str]:
        return [n for n, c in self.checks.items() if c["status"] == "warn"]


@dataclass
class Install:
    """The healthy install: the double, its kubeconfig, and the Vault side."""

    api: KubeApi
    kubeconfig: Path
    vault: hvac.Client
    kv_mount: str
    auth_mount: str
    policy: str
    px_token: str = field(repr=False)
    seed: str = field(repr=False)

    @property
    def osd_vault_prefix(self) -> str:
        """The doctor's name prefix of the OSD pod's connection checks."""
        return f"vault:{ROOK_NS}/pod/{OSD_POD}/"

    def secrets(self) -> list[str]:
        """Every secret a doctor run could leak: credentials, the seed, every JWT issued."""
        return [self.px_token, self.seed, TOKEN, *self.api.reviewer.known]

    async def run(self, *args: str) -> tuple[int, str, str]:
        """``python -m webhook doctor --kubeconfig ... ARGS``: exit code, stdout, stderr."""
        code, stdout, stderr = await run_doctor(self.kubeconfig, *args)
        assert "Traceback" not in stderr, stderr
        for secret in self.secrets():
            leaked = sorted(f for f in leak_forms(secret) if f in stdout + stderr)
            assert leaked == [], f"secret material in the doctor's output: {leaked[:3]}"
        return code, stdout, stderr

    async def doctor(self, *args: str) -> Doctored:
        """``vsi-webhook doctor -o json ARGS``, parsed and held to the report's contract."""
        code, stdout, stderr = await self.run("-o", "json", *args)
        assert code in (0, 1), stderr
        parsed = json.loads(stdout)
        assert all(set(c) == {"name", "status", "detail", "fix"} for c in parsed)
        unknown = [c["name"] for c in parsed if c["name"].split(":")[0] not in CHECK_NAMES]
        assert unknown == [], "checks missing from webhook.doctor.state.CHECK_NAMES (and the docs)"
        names = [c["name"] for c in parsed]
        assert len(names) == len(set(names)), "a check name appears twice"
        assert code == (1 if any(c["status"] == "fail" for c in parsed) else 0)
        return Doctored(code, stdout, stderr, {c["name"]: c for c in parsed})

    async def bootstrap(self, now: dt.datetime | None = None) -> None:
        """What the bootstrap Job and the rotation CronJob run: the real ``vsi-certs bootstrap``
        with the flags of manifests/base."""
        await bootstrap(BOOTSTRAP, kubeconfig=str(self.kubeconfig), now=now)

    def set_role(self, **role: Any) -> None:
        """Rewrite the Vault role the OSD logs in with."""
        self.vault.write_data(f"auth/{self.auth_mount}/role/{ROLE}", data=role)

    def edit(self, resource: str, namespace: str | None, name: str, change: Any) -> None:
        """Change a stored object as another writer would."""
        obj = self.api.get(resource, namespace, name)
        assert obj is not None
        change(obj)
        self.api.apply(obj)


def _webhook_objects(api: KubeApi, base: list[dict[str, Any]]) -> None:
    """The objects of manifests/base the double serves, with the profiles of the install."""
    served = {r.kind for r in RESOURCES.values()}
    for obj in base:
        if obj["kind"] in served:
            if obj["kind"] == "ConfigMap":
                obj = {**obj, "data": {"config.yaml": CONFIG_TEXT}}
            api.apply(obj)
    api.apply(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "vault-storage-injector-abcde",
                "namespace": WEBHOOK_NS,
                "labels": {"kubernetes.io/service-name": "vault-storage-injector"},
            },
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": [f"10.0.0.{i}"], "conditions": {"ready": True}} for i in (11, 12)
            ],
            "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}],
        }
    )


def _rook(api: KubeApi, openbao: OpenBao, vault: VaultSide) -> str:
    """The Rook namespace: connection and TLS Secrets, the seed, the OSD pod (injected)."""
    api.apply(_namespace(ROOK_NS, True))
    api.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": OSD_SA, "namespace": ROOK_NS},
        }
    )
    api.apply(
        _secret(
            ROOK_NS,
            "rook-vault",
            {
                "VAULT_ADDR": openbao.https_addr,
                "VAULT_AUTH_METHOD": "kubernetes",
                "VAULT_AUTH_KUBERNETES_ROLE": ROLE,
                "VAULT_AUTH_MOUNT_PATH": vault.auth_mount,
                "VAULT_BACKEND_PATH": vault.kv_mount,
            },
        )
    )
    api.apply(_secret(ROOK_NS, "vault-tls", {"ca.crt": openbao.ca_cert.read_bytes()}))
    seed = base64.b64encode(secrets.token_bytes(128)).decode()
    api.apply(_secret(ROOK_NS, SEED_SECRET, {"dmcrypt-key": seed}))
    pod = _golden_object("rook-osd-secret-seed")
    pod["metadata"]["name"] = OSD_POD
    api.apply(_injected(pod, "", "Pod", "CREATE"))
    return seed


def portworx_in_kube_system(api: KubeApi) -> None:
    """The Portworx manual's DaemonSet install beside the healthy one: the DaemonSet in
    kube-system (injected, its TLS Secret there), px-vault left where Portworx reads it
    itself, in portworx."""
    api.apply(_namespace("kube-system", True))
    api.apply(_secret("kube-system", "vault-tls", {"ca.crt": b"a CA, not read without --vault"}))
    daemonset = _golden_object("portworx-daemonset-000")
    daemonset["metadata"].pop("annotations", None)
    api.apply(_injected(daemonset, "apps", "DaemonSet", "UPDATE"))


def _portworx(api: KubeApi, openbao: OpenBao, px_mount: str, token: str) -> None:
    """The Portworx namespace: token auth in px-vault, the DaemonSet (injected)."""
    api.apply(_namespace(PX_NS, True))
    api.apply(
        _secret(
            PX_NS,
            "px-vault",
            {
                "VAULT_ADDR": openbao.https_addr,
                "VAULT_TOKEN": token,
                "VAULT_BACKEND_PATH": px_mount,
            },
        )
    )
    api.apply(_secret(PX_NS, "vault-tls", {"ca.crt": openbao.ca_cert.read_bytes()}))
    daemonset = _golden_object("portworx-daemonset")
    daemonset["metadata"]["namespace"] = PX_NS
    daemonset["metadata"].pop("annotations", None)
    api.apply(_injected(daemonset, "apps", "DaemonSet", "UPDATE"))


@dataclass(frozen=True)
class VaultSide:
    kv_mount: str
    auth_mount: str
    policy: str


def _vault(openbao: OpenBao, client: hvac.Client, kube_url: str) -> VaultSide:
    """A KV v2 mount for Rook's keys and a kubernetes auth mount that reviews at the double."""
    kv = _unique("rook")
    client.sys.enable_secrets_engine("kv", path=kv, options={"version": "2"})
    policy = _unique("osd")
    client.sys.create_or_update_policy(
        policy,
        f'path "{kv}/data/rook-ceph-osd-encryption-key-*" {{ capabilities = ["create", "read"] }}',
    )
    auth = _unique("k8s")
    client.sys.enable_auth_method("kubernetes", path=auth)
    client.write_data(
        f"auth/{auth}/config",
        data={
            "kubernetes_host": kube_url,
            "kubernetes_ca_cert": openbao.ca_cert.read_text(),
            "token_reviewer_jwt": TOKEN,
            "disable_local_ca_jwt": True,
        },
    )
    side = VaultSide(kv, auth, policy)
    client.write_data(
        f"auth/{auth}/role/{ROLE}",
        data={
            "bound_service_account_names": [OSD_SA],
            "bound_service_account_namespaces": [ROOK_NS],
            "token_policies": [policy],
            "audience": c.DEFAULT_TOKEN_AUDIENCE,  # the injector's own token, as setup.sh makes it
        },
    )
    return side


def _px_token(client: hvac.Client) -> tuple[str, str]:
    """Portworx's KV mount and a token for it (Portworx's own policy: the whole mount)."""
    mount = _unique("px")
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    policy = _unique("px")
    client.sys.create_or_update_policy(
        policy,
        f'path "{mount}/*" {{ capabilities = ["create", "read", "update", "delete", "list"] }}\n'
        'path "sys/mounts" { capabilities = ["read"] }',
    )
    token: str = client.auth.token.create(policies=[policy], ttl="1h")["auth"]["client_token"]
    return mount, token


@pytest.fixture(scope="session")
def base_manifests() -> list[dict[str, Any]]:
    return kustomize(MANIFESTS / "base")


@pytest.fixture
async def healthy(
    openbao: OpenBao, base_manifests: list[dict[str, Any]], tmp_path: Path
) -> AsyncIterator[Install]:
    """The healthy install (see the module docstring), fresh for each test."""
    async with serve_kubeapi() as running:
        api = running.api
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(running.kubeconfig())
        _webhook_objects(api, base_manifests)
        await bootstrap(BOOTSTRAP, kubeconfig=str(kubeconfig))
        client = openbao.client()
        vault = _vault(openbao, client, running.url)
        seed = _rook(api, openbao, vault)
        px_mount, px_token = _px_token(client)
        _portworx(api, openbao, px_mount, px_token)
        install = Install(
            api=api,
            kubeconfig=kubeconfig,
            vault=client,
            kv_mount=vault.kv_mount,
            auth_mount=vault.auth_mount,
            policy=vault.policy,
            px_token=px_token,
            seed=seed,
        )
        yield install

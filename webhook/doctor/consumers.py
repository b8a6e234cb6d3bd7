"""The Vault clients the webhook sets up: which container of an object talks to Vault.

``--vault`` checks each connection as the consumer itself would make it, so it starts from what
the webhook leaves in the object (the mutated object, or the object as it is when already
injected): the ``vsi-injector`` init container of a Rook OSD or volume-keys pod, the ``portworx``
container of a DaemonSet or pod, the ``spec.env`` of a StorageCluster, with the service account
it runs as and the Secrets it names. `webhook.doctor.startup` then says what that container would
start with. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from webhook.core import constants as c
from webhook.core.shapes import as_list, as_map, pod_spec
from webhook.doctor.state import STORAGE_CLUSTER, Json, Workload

Mode = Literal["injector", "portworx"]
"""``injector``: ``vsi-injector`` runs with these settings; ``portworx``: Portworx connects with
them (it names its own keys, so only the connection is checked)."""
INJECTOR: Final[Mode] = "injector"
"""The consumer is the injected ``vsi-injector`` init container."""
PORTWORX: Final[Mode] = "portworx"
"""The consumer is Portworx (its container, or the StorageCluster's ``spec.env``)."""
PORTWORX_OPERATOR_SERVICE_ACCOUNT: Final = "portworx"
"""The service account the Portworx Operator runs the Portworx pods of a StorageCluster with."""
DEFAULT_SERVICE_ACCOUNT: Final = "default"
"""The service account of a pod that names none."""


@dataclass(frozen=True)
class Consumer:
    """A container that reaches Vault with the settings the webhook gave it."""

    workload: Workload
    """The object it belongs to."""
    profile: str
    """The profile the webhook chose for it."""
    mode: Mode
    """Who connects: the injector or Portworx."""
    service_account: str
    """The service account it runs as (kubernetes auth logs in as this one)."""
    env: tuple[Json, ...]
    """Its ``env`` entries."""
    env_from: tuple[Json, ...]
    """Its ``envFrom`` entries."""
    mounts: tuple[Json, ...]
    """Its ``volumeMounts`` (a StorageCluster's volumes carry their own mount path)."""
    volumes: tuple[Json, ...]
    """The volumes of its pod (or of the StorageCluster)."""

    @property
    def label(self) -> str:
        """``pod/rook-ceph-osd-0-abc`` (lower-case kind, as kubectl names objects)."""
        return f"{self.workload.kind.kind.lower()}/{self.workload.name}"


def consumer_of(workload: Workload, obj: Mapping[str, Any], profile: str) -> Consumer | None:
    """The Vault client of ``obj`` (the object as mutated), or None when it has none."""
    if workload.kind == STORAGE_CLUSTER:
        spec = as_map(obj.get("spec"))
        volumes = tuple(v for v in as_list(spec.get("volumes")) if isinstance(v, dict))
        mounts = tuple(
            {"name": v.get("name"), "mountPath": v["mountPath"]}
            for v in volumes
            if isinstance(v.get("mountPath"), str)
        )
        env = tuple(e for e in as_list(spec.get("env")) if isinstance(e, dict))
        service_account = PORTWORX_OPERATOR_SERVICE_ACCOUNT
        return Consumer(workload, profile, PORTWORX, service_account, env, (), mounts, volumes)
    _, spec = pod_spec(obj, workload.kind.kind)
    found = _container(spec, "initContainers", c.INJECTOR_CONTAINER_NAME)
    mode: Mode = INJECTOR
    if found is None:
        found = _container(spec, "containers", c.PORTWORX_CONTAINER)
        mode = PORTWORX
    if found is None:
        return None
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    return Consumer(
        workload=workload,
        profile=profile,
        mode=mode,
        service_account=str(account or DEFAULT_SERVICE_ACCOUNT),
        env=tuple(e for e in as_list(found.get("env")) if isinstance(e, dict)),
        env_from=tuple(e for e in as_list(found.get("envFrom")) if isinstance(e, dict)),
        mounts=tuple(m for m in as_list(found.get("volumeMounts")) if isinstance(m, dict)),
        volumes=tuple(v for v in as_list(spec.get("volumes")) if isinstance(v, dict)),
    )


def _container(spec: Mapping[str, Any], field_name: str, name: str) -> Mapping[str, Any] | None:
    for container in as_list(spec.get(field_name)):
        if isinstance(container, dict) and container.get("name") == name:
            return container
    return None


def secret_refs(consumer: Consumer) -> frozenset[str]:
    """Every Secret the consumer's variables and volumes name (the ones to read)."""
    found: set[str] = set()
    for entry in consumer.env:
        ref = as_map(as_map(entry.get("valueFrom")).get("secretKeyRef"))
        if isinstance(ref.get("name"), str):
            found.add(ref["name"])
    for entry in consumer.env_from:
        ref = as_map(entry.get("secretRef"))
        if isinstance(ref.get("name"), str):
            found.add(ref["name"])
    for volume in consumer.volumes:
        for source in secret_sources(volume):
            found.add(str(source.get("secretName") or source.get("name") or ""))
    return frozenset(found - {""})


def secret_sources(volume: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The Secret sources of a volume: a ``secret`` volume, or a ``projected`` one's secrets."""
    secret = as_map(volume.get("secret"))
    if secret:
        return [secret]
    projected = as_map(volume.get("projected"))
    return [as_map(s.get("secret")) for s in as_list(projected.get("sources")) if s.get("secret")]


def describe_sources(sources: Sequence[str]) -> str:
    """``Secrets a, b`` for the report (names only)."""
    if not sources:
        return "no Secret"
    return ("Secret " if len(sources) == 1 else "Secrets ") + ", ".join(sources)

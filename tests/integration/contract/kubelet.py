"""What the kubelet makes of a container spec: its environment and its mounted volumes, as files.

The webhook's output is only right if the containers it describes start and find what they
need, so the contract tests resolve a container the way the kubelet would before running a
process with it: ``env`` from values, ``secretKeyRef`` and ``configMapKeyRef`` (an optional key
that is missing stays unset; a required one stops the pod), ``fieldRef`` and ``envFrom``; and
every volume of the pod materialised in a directory (the kubelet sets them all up before any
container runs, and a missing Secret or key that is not optional keeps the pod in
``ContainerCreating``): Secret and projected volumes with their ``items``, ``defaultMode`` and
item ``mode``, in the kubelet's layout (each file a symlink through ``..data`` into a
timestamped directory), ConfigMaps, service-account tokens, the downward API, ``emptyDir``,
``hostPath`` (a directory the test fills, as a node would have it) and PVCs; a PVC a container
maps with ``volumeDevices`` is the file the test gives as that claim's block device. Env values
that are paths under a mount (or a device path) are mapped to its directory (or file).

A Pod created from a template (a DaemonSet's) also gets what the ServiceAccount admission
plugin adds before any webhook sees it: the service-account token volume, in every container.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
"""Where the ServiceAccount admission plugin mounts the token."""
DEFAULT_MODE = 0o644
"""The kubelet's mode for Secret, ConfigMap and projected files without defaultMode or mode."""


class PodWouldNotStart(AssertionError):
    """The kubelet would refuse: a required Secret, key or env source is missing."""


@dataclass
class Node:
    """What the kubelet reads for a pod: objects of its namespace, and the node's own files."""

    namespace: str
    """The pod's namespace."""
    secrets: dict[str, dict[str, str | bytes]] = field(default_factory=dict)
    """Secret name -> data (decoded)."""
    config_maps: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"kube-root-ca.crt": {"ca.crt": "API server CA"}}
    )
    """ConfigMap name -> data; every namespace has ``kube-root-ca.crt``."""
    host_paths: dict[str, Path] = field(default_factory=dict)
    """hostPath path -> the directory standing in for it (an empty one when not given)."""
    service_account_token: str = "not-a-real-token"
    """The projected token of the pod's service account."""
    block_devices: dict[str, Path] = field(default_factory=dict)
    """PVC claim name -> the file standing in for its block device (``volumeDevices``)."""
    pod_name: str = "pod-0"
    """``metadata.name`` of the pod (downward API)."""
    node_name: str = "node-0"
    """``spec.nodeName``: the node the pod runs on."""
    pod_ip: str = "10.0.0.7"
    """``status.podIP``."""


@dataclass(frozen=True)
class Started:
    """A container as it starts: its environment and where its mounts are."""

    env: dict[str, str]
    """The resolved environment (the test's own, without VAULT_* and VSI_*, underneath)."""
    mounts: dict[str, Path]
    """mountPath -> the directory of the mounted volume."""
    devices: dict[str, Path] = field(default_factory=dict)
    """devicePath -> the file standing in for the block device mapped there."""

    def path(self, container_path: str) -> Path:
        """The directory or file standing in for ``container_path`` (under one of the mounts)."""
        mapped = self.mapped(container_path)
        assert mapped != container_path, f"{container_path} lies under no mount of the container"
        return Path(mapped)

    def sees(self, container_path: str) -> bool:
        """Whether ``container_path`` is a file the container sees in its mounts or devices."""
        mapped = self.mapped(container_path)
        return mapped != container_path and Path(mapped).is_file()

    def mapped(self, value: str) -> str:
        """``value`` with a mount path at its start replaced by the mount's directory (a path in
        the image, or no path at all, stays as it is)."""
        if value in self.devices:
            return str(self.devices[value])
        for mount_path in sorted(self.mounts, key=len, reverse=True):
            if value == mount_path or value.startswith(mount_path + "/"):
                return str(self.mounts[mount_path]) + value[len(mount_path) :]
        return value


def with_service_account(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The pod spec after the ServiceAccount admission plugin: a token volume in every container
    that has none at the standard path (unless automountServiceAccountToken is false)."""
    out = copy.deepcopy(dict(spec))
    if out.get("automountServiceAccountToken") is False:
        return out
    volume = "kube-api-access-kubelet"
    out.setdefault("volumes", []).append(
        {
            "name": volume,
            "projected": {
                "defaultMode": 0o644,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {
                        "configMap": {
                            "name": "kube-root-ca.crt",
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                        }
                    },
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "path": "namespace",
                                    "fieldRef": {
                                        "apiVersion": "v1",
                                        "fieldPath": "metadata.namespace",
                                    },
                                }
                            ]
                        }
                    },
                ],
            },
        }
    )
    for kind in ("initContainers", "containers"):
        for container in out.get(kind, []):
            mounts = container.setdefault("volumeMounts", [])
            if not any(m["mountPath"] == SERVICE_ACCOUNT_DIR for m in mounts):
                mounts.append({"name": volume, "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True})
    return out


class Pod:
    """A pod on a node: its volumes set up once (as the kubelet does before any container)."""

    def __init__(self, spec: Mapping[str, Any], node: Node, root: Path) -> None:
        self.spec = spec
        self.node = node
        self.volumes = {
            volume["name"]: _materialise(volume, node, root / "volumes" / volume["name"])
            for volume in spec.get("volumes", [])
        }

    def start(self, name: str) -> Started:
        """Container ``name`` as it starts: env resolved, mounts mapped to their directories."""
        spec = self.spec
        container = next(
            c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == name
        )
        mounts: dict[str, Path] = {}
        for mount in container.get("volumeMounts", []):
            directory = self.volumes[mount["name"]]
            if "subPath" in mount:
                directory = directory / mount["subPath"]
            mounts[mount["mountPath"].rstrip("/")] = directory
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VSI_"))}
        for source in container.get("envFrom", []):
            env.update(_env_from(source, self.node))
        started = Started(env, mounts, self._devices(container))
        for entry in container.get("env", []):
            value = _env_value(entry, self.node)
            if value is None:
                continue
            env[entry["name"]] = started.mapped(value)
        return started

    def _devices(self, container: Mapping[str, Any]) -> dict[str, Path]:
        """The container's ``volumeDevices``: device path -> the claim's stand-in file."""
        devices: dict[str, Path] = {}
        for device in container.get("volumeDevices", []):
            volume = next(v for v in self.spec["volumes"] if v["name"] == device["name"])
            claim = volume["persistentVolumeClaim"]["claimName"]
            if claim not in self.node.block_devices:
                raise PodWouldNotStart(f"PVC {claim} has no block device on this node")
            devices[device["devicePath"]] = self.node.block_devices[claim]
        return devices


def _env_value(entry: Mapping[str, Any], node: Node) -> str | None:
    if "value" in entry:
        return str(entry["value"])
    if "valueFrom" not in entry:
        return ""  # {name} alone: the variable is set, empty
    source = entry["valueFrom"]
    for kind, objects in (("secretKeyRef", node.secrets), ("configMapKeyRef", node.config_maps)):
        if kind in source:
            ref = source[kind]
            data = objects.get(ref["name"])
            if data is None or ref["key"] not in data:
                if ref.get("optional") is True:
                    return None
                raise PodWouldNotStart(f"env {entry['name']}: {kind} {ref['name']} {ref['key']}")
            value = data[ref["key"]]
            return value.decode() if isinstance(value, bytes) else value
    field_path = source["fieldRef"]["fieldPath"]
    fields = {
        "metadata.namespace": node.namespace,
        "metadata.name": node.pod_name,
        "spec.nodeName": node.node_name,
        "status.podIP": node.pod_ip,
    }
    assert field_path in fields, f"fieldRef {field_path} is not resolved here"
    return fields[field_path]


def _env_from(source: Mapping[str, Any], node: Node) -> dict[str, str]:
    """The variables of one ``envFrom`` source (a missing optional one gives none)."""
    if "configMapRef" in source:
        ref, data = source["configMapRef"], node.config_maps.get(source["configMapRef"]["name"])
    else:
        ref, data = source["secretRef"], node.secrets.get(source["secretRef"]["name"])
    if data is None:
        if ref.get("optional") is True:
            return {}
        raise PodWouldNotStart(f"envFrom {ref['name']} not found")
    prefix = source.get("prefix", "")
    return {prefix + k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}


def _materialise(volume: Mapping[str, Any], node: Node, directory: Path) -> Path:
    """The directory the kubelet would mount for ``volume``."""
    if "hostPath" in volume:
        host = node.host_paths.get(volume["hostPath"]["path"])
        if host is not None:
            return host
        directory.mkdir(parents=True)
        return directory
    directory.mkdir(parents=True)
    if "secret" in volume:
        source = volume["secret"]
        files = _secret_files(source["secretName"], source, node, source.get("defaultMode"))
        _atomic_write(directory, files)
    elif "projected" in volume:
        files = {}
        default = volume["projected"].get("defaultMode")
        # A projection of nothing (Rook's `vault` volume without TLS Secrets) is an empty dir.
        for projection in volume["projected"].get("sources") or []:
            files.update(_projection(projection, node, default))
        _atomic_write(directory, files)
    elif "configMap" in volume:
        source = volume["configMap"]
        _atomic_write(directory, _config_map_files(source, node, source.get("defaultMode")))
    else:
        assert {"emptyDir", "persistentVolumeClaim"} & volume.keys(), f"volume {volume['name']}"
    return directory


Files = dict[str, tuple[bytes, int]]
"""path in the volume -> (content, mode)."""


def _projection(projection: Mapping[str, Any], node: Node, default: int | None) -> Files:
    if "secret" in projection:
        source = projection["secret"]
        return _secret_files(source["name"], source, node, default)
    if "configMap" in projection:
        return _config_map_files(projection["configMap"], node, default)
    mode = default if default is not None else DEFAULT_MODE
    if "serviceAccountToken" in projection:
        path = projection["serviceAccountToken"]["path"]
        return {path: (node.service_account_token.encode(), mode)}
    items = projection["downwardAPI"]["items"]
    out: Files = {}
    for item in items:
        assert item["fieldRef"]["fieldPath"] == "metadata.namespace"
        out[item["path"]] = (node.namespace.encode(), item.get("mode", mode))
    return out


def _secret_files(name: str, source: Mapping[str, Any], node: Node, default: int | None) -> Files:
    data = node.secrets.get(name)
    if data is None:
        if source.get("optional") is True:
            return {}
        raise PodWouldNotStart(f"Secret {name} not found")
    encoded = {k: v.encode() if isinstance(v, str) else v for k, v in data.items()}
    return _items(name, encoded, source, default)


def _config_map_files(source: Mapping[str, Any], node: Node, default: int | None) -> Files:
    data = node.config_maps.get(source["name"])
    if data is None:
        if source.get("optional") is True:
            return {}
        raise PodWouldNotStart(f"ConfigMap {source['name']} not found")
    return _items(source["name"], {k: v.encode() for k, v in data.items()}, source, default)


def _items(
    name: str, data: Mapping[str, bytes], source: Mapping[str, Any], default: int | None
) -> Files:
    """The files of a Secret or ConfigMap source: every key, or exactly its ``items``."""
    mode = default if default is not None else DEFAULT_MODE
    if "items" not in source:
        return {key: (value, mode) for key, value in data.items()}
    out: Files = {}
    for item in source["items"]:
        if item["key"] not in data:
            if source.get("optional") is True:
                continue
            raise PodWouldNotStart(f"{name} has no key {item['key']}")
        out[item["path"]] = (data[item["key"]], item.get("mode", mode))
    return out


def _atomic_write(directory: Path, files: Files) -> None:
    """The kubelet's layout: files in ``..<timestamp>/``, ``..data`` pointing there, and each
    visible name a symlink through ``..data``."""
    stamped = directory / "..2026_01_01_00_00_00.000000001"
    stamped.mkdir()
    for path, (content, mode) in files.items():
        target = stamped / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(mode)
    (directory / "..data").symlink_to(stamped.name)
    for top in {path.split("/", 1)[0] for path in files}:
        (directory / top).symlink_to(f"..data/{top}")

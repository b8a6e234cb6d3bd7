"""The mutation rules: object + admission context -> JSON Patch operations (pure, fast).

`build_mutator` compiles a `Config` once (per-profile env lists, volumes, container templates) and
returns a callable the HTTPS server and the offline preview share. Per request it only walks the
object and emits ``add`` / ``replace`` ops directly (no deep copy, no diff); values that depend only
on the profile are shared between requests and must not be mutated by callers. Idempotent by
construction: everything already present (by name) is left alone, so a second pass is empty.

The object arrives before schema validation (a StorageCluster's ``spec`` is untyped then), so the
rules never trust its shape: a malformed piece counts as absent or foreign, and a list or map the
patch would have to extend but that holds something else skips the object (``malformed``) rather
than overwrite it. A volume, mount path or label that would make the injection unsafe skips it as
``conflict``; both say why in a warning.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from vsi_common import names
from webhook import builders as b
from webhook import constants as c
from webhook import patch
from webhook.model import AdmissionContext, ClusterView, MutationResult, Mutator, PatchOp
from webhook.profiles import Config, Profile

Json = dict[str, Any]
_MUTATING_OPERATIONS = frozenset({"CREATE", "UPDATE"})


_MAX_CACHED_POINTERS = 64
"""Env-append op lists kept per profile (one per container pointer seen; a handful in practice)."""


@dataclass(frozen=True)
class _Compiled:
    """What a profile injects, computed once at build time."""

    profile: Profile
    env: tuple[Json, ...]
    env_names: frozenset[str]
    tls_volume: Json | None
    tls_mount: Json | None
    sc_tls_volume: Json | None
    """StorageCluster ``spec.volumes`` entry (the operator's volume shape) for the TLS Secret."""
    _env_appends: dict[str, tuple[PatchOp, ...]] = dataclasses.field(
        default_factory=dict, compare=False
    )

    def env_appends(self, base: str) -> tuple[PatchOp, ...]:
        """``add <base>/env/-`` for each of the profile's env entries, built once per pointer."""
        ops = self._env_appends.get(base)
        if ops is None:
            path = patch.join(base, "env") + "/-"
            ops = tuple(patch.add(path, entry) for entry in self.env)
            if len(self._env_appends) < _MAX_CACHED_POINTERS:
                self._env_appends[base] = ops
        return ops


@dataclass
class _Plan:
    """A handler's answer: ops (empty = nothing to do) or a skip reason, plus warnings."""

    ops: list[PatchOp]
    warnings: list[str]
    skip: str | None = None


class _MalformedError(Exception):
    """A list the patch must extend holds something else; raised by `_append` and `_insert`."""

    def __init__(self, pointer: str) -> None:
        super().__init__(pointer)
        self.pointer = pointer


def _conflict(warning: str) -> _Plan:
    return _Plan([], [warning], c.SKIP_CONFLICT)


def build_mutator(config: Config) -> Mutator:
    """The mutator for ``config``: pure, deterministic and safe to call from many tasks."""
    return _Mutator(config)


class _Mutator:
    def __init__(self, config: Config) -> None:
        self._config = config
        self._compiled = {p.name: _compile(p) for p in config.profiles}

    def __call__(self, obj: Mapping[str, Any], ctx: AdmissionContext) -> MutationResult:
        if ctx.operation not in _MUTATING_OPERATIONS:
            return _skipped(c.SKIP_OPERATION)
        if not _is_map(obj) or not obj:
            return _skipped(c.SKIP_NO_OBJECT)
        meta = _map(obj.get("metadata"))
        namespace = ctx.namespace or str(meta.get("namespace") or "")
        if ctx.webhook_namespace and namespace == ctx.webhook_namespace:
            return _skipped(c.SKIP_WEBHOOK_NAMESPACE)
        if not ctx.assume_namespace_enabled and ctx.cluster is not None and namespace:
            labels = ctx.cluster.namespace_labels(namespace)
            if labels is not None and labels.get(c.LABEL_ENABLED) != c.ENABLED_VALUE:
                return _skipped(c.SKIP_NAMESPACE_NOT_ENABLED)
        annotations = _map(meta.get("annotations"))
        kind = ctx.kind or str(obj.get("kind") or "")
        if kind == "Pod" and c.ANNOTATION_MIRROR_POD in annotations:
            return _skipped(c.SKIP_MIRROR_POD)
        if annotations.get(c.ANNOTATION_INJECT) == c.INJECT_FALSE:
            return _skipped(c.SKIP_OPTED_OUT)

        candidates = _candidate_types(obj, ctx, kind, annotations)
        requested = annotations.get(c.ANNOTATION_PROFILE)
        compiled: _Compiled | None = None
        if isinstance(requested, str) and requested:
            compiled = self._compiled.get(requested)
            if compiled is None:
                return _skipped(
                    c.SKIP_UNKNOWN_PROFILE,
                    [f"profile {requested!r} is not configured; object left unchanged"],
                )
            if compiled.profile.type not in candidates:
                warning = (
                    f"profile {requested!r} ({compiled.profile.type}) does not apply to this "
                    f"{kind}; object left unchanged"
                )
                return _skipped(c.SKIP_NO_PROFILE, [warning], requested)
        else:
            for candidate in self._compiled.values():
                if candidate.profile.type in candidates:
                    compiled = candidate
                    break
        if compiled is None:
            return _skipped(c.SKIP_NO_PROFILE)
        name = compiled.profile.name
        if not candidates[compiled.profile.type]:
            return _skipped(c.SKIP_OPERATION, (), name)
        raw_meta = obj.get("metadata")
        if raw_meta is not None and not (
            _is_map(raw_meta) and _is_map_or_none(raw_meta.get("annotations"))
        ):
            what = "metadata" if not _is_map(raw_meta) else "metadata.annotations"
            return _skipped(c.SKIP_MALFORMED, [f"{what} is not a mapping; {_UNCHANGED}"], name)

        try:
            plan = self._plan(compiled, obj, kind)
        except _MalformedError as exc:
            warning = f"{exc.pointer} is not a list; {_UNCHANGED}"
            return _skipped(c.SKIP_MALFORMED, [warning], name)
        if plan.skip is not None:
            return _skipped(plan.skip, plan.warnings, name)
        warnings = plan.warnings + _secret_warnings(compiled, namespace, ctx.cluster)
        if not plan.ops:
            return _skipped(c.SKIP_ALREADY_INJECTED, warnings, name)
        ops = plan.ops
        if raw_meta is None:
            ops.append(patch.add("/metadata", {"annotations": dict(_STATUS)}))
        else:
            ops.extend(patch.set_map_entries(meta, "annotations", "/metadata", _STATUS))
        return MutationResult(
            outcome="mutated",
            reason=c.REASON_INJECTED,
            ops=ops,
            warnings=tuple(_short(w) for w in warnings),
            profile=name,
        )

    def _plan(self, compiled: _Compiled, obj: Mapping[str, Any], kind: str) -> _Plan:
        profile_type = compiled.profile.type
        if profile_type == c.TYPE_PORTWORX_OPERATOR:
            return _storage_cluster(compiled, obj)
        base, spec = _pod_spec(obj, kind)
        if profile_type == c.TYPE_PORTWORX:
            return _portworx(compiled, base, spec)
        if profile_type == c.TYPE_ROOK_OSD:
            return _rook_osd(
                compiled, self._config, base, spec, _map(_map(obj.get("metadata")).get("labels"))
            )
        return _volume_keys(compiled, self._config, base, spec)


_STATUS: Sequence[tuple[str, Any]] = ((c.ANNOTATION_STATUS, c.STATUS_INJECTED),)
_UNCHANGED = "object left unchanged"


def _compile(profile: Profile) -> _Compiled:
    env = tuple(b.connection_env(profile.connection))
    tls = profile.connection.tls_secret
    sc_tls = None
    if tls:
        sc_tls = {
            "name": c.TLS_VOLUME_NAME,
            "mountPath": c.TLS_MOUNT_PATH,
            "readOnly": True,
            "secret": {"secretName": tls},
        }
    return _Compiled(
        profile=profile,
        env=env,
        env_names=frozenset(e["name"] for e in env),
        tls_volume=b.tls_volume(tls) if tls else None,
        tls_mount=b.tls_mount() if tls else None,
        sc_tls_volume=sc_tls,
    )


# --- matching -------------------------------------------------------------------------------------


def _candidate_types(
    obj: Mapping[str, Any], ctx: AdmissionContext, kind: str, annotations: Mapping[str, Any]
) -> dict[str, bool]:
    """Profile types that match the object, each with whether the operation is handled."""
    group = ctx.group
    out: dict[str, bool] = {}
    create = ctx.operation == "CREATE"
    if kind == c.STORAGE_CLUSTER_KIND and group == c.STORAGE_CLUSTER_GROUP:
        out[c.TYPE_PORTWORX_OPERATOR] = True
        return out
    if kind == "DaemonSet" and group == "apps":
        _, spec = _pod_spec(obj, kind)
        if _find(spec.get("containers"), c.PORTWORX_CONTAINER) is not None:
            out[c.TYPE_PORTWORX] = True
        return out
    if kind != "Pod" or group != "":
        return out
    _, spec = _pod_spec(obj, kind)
    if _find(spec.get("containers"), c.PORTWORX_CONTAINER) is not None:
        out[c.TYPE_PORTWORX] = create
    labels = _map(_map(obj.get("metadata")).get("labels"))
    if (
        labels.get(c.ROOK_APP_LABEL) == c.ROOK_OSD_APP
        and labels.get(c.ROOK_PVC_LABEL)
        and _find(spec.get("volumes"), c.ROOK_KEY_VOLUME) is not None
    ):
        out[c.TYPE_ROOK_OSD] = create
    if annotations.get(c.ANNOTATION_INJECT) == c.INJECT_TRUE and _pvc_names(spec):
        out[c.TYPE_VOLUME_KEYS] = create
    return out


# --- handlers -------------------------------------------------------------------------------------


def _portworx(compiled: _Compiled, base: str, spec: Mapping[str, Any]) -> _Plan:
    index = _find(spec.get("containers"), c.PORTWORX_CONTAINER)
    assert index is not None  # matched by _candidate_types
    container = spec["containers"][index]
    args = container.get("args")
    secret_type = _flag_value(args if isinstance(args, list) else [], c.SECRET_TYPE_FLAG)
    if secret_type is not None and secret_type != c.SECRET_TYPE_VAULT:
        shown = secret_type[:40]
        return _Plan(
            [],
            [f"container portworx sets -secret_type {shown}; Vault settings not added"],
            c.SKIP_CONFLICT,
        )
    if compiled.tls_mount is not None:
        conflict = _tls_volume_conflict(compiled, spec) or _path_conflict(
            [container], c.TLS_VOLUME_NAME, c.TLS_MOUNT_PATH
        )
        if conflict:
            return _conflict(conflict)
    cbase = patch.join(base, "containers", index)
    ops = _env_ops(compiled, container, cbase)
    if secret_type is None:
        ops += _append(container, "args", cbase, [c.SECRET_TYPE_FLAG, c.SECRET_TYPE_VAULT])
    ops += _tls_ops(compiled, spec, base, [(container, cbase)])
    return _Plan(ops, [])


def _storage_cluster(compiled: _Compiled, obj: Mapping[str, Any]) -> _Plan:
    spec = obj.get("spec")
    if spec is None:
        value: Json = {"env": list(compiled.env), "secretsProvider": c.SECRET_TYPE_VAULT}
        if compiled.sc_tls_volume is not None:
            value["volumes"] = [compiled.sc_tls_volume]
        return _Plan([patch.add("/spec", value)], [])
    if not _is_map(spec):
        return _Plan([], [f"spec is not a mapping; {_UNCHANGED}"], c.SKIP_MALFORMED)
    provider = spec.get("secretsProvider")
    if provider is not None and provider != c.SECRET_TYPE_VAULT:
        shown = str(provider)[:40]
        return _Plan(
            [],
            [f"StorageCluster sets secretsProvider {shown}; Vault settings not added"],
            c.SKIP_CONFLICT,
        )
    tls = compiled.sc_tls_volume
    if tls is not None:
        # Operator volumes carry their own mountPath: ours must be the profile's Secret at ours.
        volumes = _list(spec.get("volumes"))
        index = _find(volumes, c.TLS_VOLUME_NAME)
        secret = tls["secret"]
        if index is not None and not (
            _is_volume(volumes[index], "secret", secret, _SC_VOLUME_FIELDS)
            and volumes[index].get("mountPath") == c.TLS_MOUNT_PATH
        ):
            expected = f"Secret {secret['secretName']} at {c.TLS_MOUNT_PATH}"
            return _conflict(_foreign_volume(c.TLS_VOLUME_NAME, expected))
        other = _mounted_at(volumes, c.TLS_VOLUME_NAME, c.TLS_MOUNT_PATH)
        if other is not None:
            return _conflict(
                f"StorageCluster volume {other} is mounted at {c.TLS_MOUNT_PATH}; {_UNCHANGED}"
            )
    ops = _env_ops(compiled, spec, "/spec")
    if provider is None:
        ops.append(patch.add("/spec/secretsProvider", c.SECRET_TYPE_VAULT))
    if tls is not None and _find(spec.get("volumes"), c.TLS_VOLUME_NAME) is None:
        ops += _append(spec, "volumes", "/spec", [tls])
    return _Plan(ops, [])


def _rook_osd(
    compiled: _Compiled,
    config: Config,
    base: str,
    spec: Mapping[str, Any],
    labels: Mapping[str, Any],
) -> _Plan:
    init = _list(spec.get("initContainers"))
    if _find(init, c.ROOK_KMS_INIT_CONTAINER) is not None:
        warning = (
            f"Rook fetches this OSD key from its own KMS ({c.ROOK_KMS_INIT_CONTAINER}); "
            "pod left unchanged"
        )
        return _Plan([], [warning], c.SKIP_KMS_MANAGED)
    pvc = labels.get(c.ROOK_PVC_LABEL)
    if not isinstance(pvc, str) or pvc not in _pvc_names(spec):
        # Otherwise a look-alike pod could have the injector read (or create) another OSD's key.
        return _conflict(
            f"label {c.ROOK_PVC_LABEL} {str(pvc)[:40]} names none of the pod's PVC volumes; "
            "pod left unchanged"
        )
    volumes = spec["volumes"]
    vindex = _find(volumes, c.ROOK_KEY_VOLUME)
    assert vindex is not None  # matched by _candidate_types
    volume = volumes[vindex]
    conflict = _tls_volume_conflict(compiled, spec)
    if conflict:
        return _conflict(conflict)
    ops: list[PatchOp] = []
    warnings: list[str] = []
    injected = (
        _find(init, c.INJECTOR_CONTAINER_NAME) is not None
        or _find(spec.get("containers"), c.INJECTOR_CONTAINER_NAME) is not None
    )
    if not injected:
        consumers = [i for i, ic in enumerate(init) if _mounts(ic, c.ROOK_KEY_VOLUME)]
        position = consumers[0] if consumers else 0
        uid, gid, owner, group_readable, _ = _injector_user(
            spec, [init[i] for i in consumers], config.injector.run_as_user
        )
        seed = volume.get("secret")
        seed_file = None
        mounts = [b.mount(c.ROOK_KEY_VOLUME, config.key_volume.mount_path, read_only=False)]
        mounts += _service_account_mount(spec)
        if _is_map(seed):
            seed_secret = seed.get("secretName")
            if not isinstance(seed_secret, str) or not seed_secret:
                warning = f"volume {c.ROOK_KEY_VOLUME} names no Secret; {_UNCHANGED}"
                return _Plan([], [warning], c.SKIP_MALFORMED)
            seed_file = f"{c.SEED_MOUNT_PATH}/{_seed_path(seed)}"
            mounts.append(b.mount(c.SEED_VOLUME_NAME, c.SEED_MOUNT_PATH, read_only=True))
            sindex = _find(volumes, c.SEED_VOLUME_NAME)
            if sindex is None:
                # 0444: the injector runs as a non-root uid; only the injector mounts this volume.
                source = {k: v for k, v in seed.items() if k != "defaultMode"}
                source["defaultMode"] = 0o444
                ops.append(
                    patch.add(
                        patch.join(base, "volumes", "-"),
                        {"name": c.SEED_VOLUME_NAME, "secret": source},
                    )
                )
            elif not _is_volume(volumes[sindex], "secret", {"secretName": seed_secret}):
                return _conflict(_foreign_volume(c.SEED_VOLUME_NAME, f"Secret {seed_secret}"))
        if compiled.tls_mount is not None:
            mounts.append(compiled.tls_mount)
        env = b.injector_env(
            layout="rook",
            volumes=[pvc],
            output_dir=config.key_volume.mount_path,
            owner=owner,
            group_readable=group_readable,
            seed_file=seed_file,
        )
        container = b.injector_container(
            config.injector, env=[*env, *compiled.env], mounts=mounts, uid=uid, gid=gid
        )
        ops.insert(0, _insert(spec, "initContainers", base, position, container))
    if not _is_volume(volume, "emptyDir", _MEMORY):
        ops.append(
            patch.replace(
                patch.join(base, "volumes", vindex),
                b.memory_volume(c.ROOK_KEY_VOLUME, config.key_volume),
            )
        )
    ops += _tls_ops(compiled, spec, base, [])
    return _Plan(ops, warnings)


def _volume_keys(compiled: _Compiled, config: Config, base: str, spec: Mapping[str, Any]) -> _Plan:
    pvcs = _pvc_names(spec)
    containers = _list(spec.get("containers"))
    volumes = _list(spec.get("volumes"))
    path = config.key_volume.mount_path
    kindex = _find(volumes, c.KEY_VOLUME_NAME)
    if kindex is not None and not _is_volume(volumes[kindex], "emptyDir", _MEMORY):
        # Keys must never reach a disk, and a foreign volume is never mounted into the injector.
        return _conflict(_foreign_volume(c.KEY_VOLUME_NAME, "an emptyDir with medium Memory"))
    conflict = _tls_volume_conflict(compiled, spec) or _path_conflict(
        containers, c.KEY_VOLUME_NAME, path
    )
    if conflict:
        return _conflict(conflict)
    ops: list[PatchOp] = []
    warnings: list[str] = []
    injected = (
        _find(spec.get("initContainers"), c.INJECTOR_CONTAINER_NAME) is not None
        or _find(containers, c.INJECTOR_CONTAINER_NAME) is not None
    )
    if not injected:
        uid, gid, owner, group_readable, known = _injector_user(
            spec, containers, config.injector.run_as_user
        )
        if not known and not group_readable:
            warnings.append(
                "pod names no non-root user or fsGroup; key files are readable by root only"
            )
        mounts = [b.mount(c.KEY_VOLUME_NAME, path, read_only=False)]
        mounts += _service_account_mount(spec)
        if compiled.tls_mount is not None:
            mounts.append(compiled.tls_mount)
        env = b.injector_env(
            layout="volume-keys",
            volumes=pvcs,
            output_dir=path,
            owner=owner,
            group_readable=group_readable,
        )
        container = b.injector_container(
            config.injector, env=[*env, *compiled.env], mounts=mounts, uid=uid, gid=gid
        )
        ops.append(_insert(spec, "initContainers", base, 0, container))
    if kindex is None:
        ops += _append(
            spec, "volumes", base, [b.memory_volume(c.KEY_VOLUME_NAME, config.key_volume)]
        )
    # Only the containers that use a PVC get the keys: a logging or mesh sidecar (also one another
    # webhook adds later, on reinvocation) has no business reading them.
    claims = _pvc_volume_names(volumes)
    key_mount = b.mount(c.KEY_VOLUME_NAME, path, read_only=True)
    consumers = 0
    for index, container in enumerate(containers):
        if not _is_map(container) or not _uses_volume(container, claims):
            continue
        consumers += 1
        if _mounts(container, c.KEY_VOLUME_NAME):
            continue
        ops += _append(
            container, "volumeMounts", patch.join(base, "containers", index), [key_mount]
        )
    if not consumers and not injected:
        warnings.append("no container mounts a PVC volume; the key files are mounted nowhere")
    ops += _tls_ops(compiled, spec, base, [])
    return _Plan(ops, warnings)


def _service_account_mount(spec: Mapping[str, Any]) -> list[Json]:
    """The pod's service-account token mount, copied read-only for the injector (kubernetes auth).

    The ServiceAccount admission plugin mounts the token into the containers it sees, and it runs
    before the webhooks: a container added here gets nothing unless we copy the mount.
    """
    for field in ("containers", "initContainers"):
        for container in _list(spec.get(field)):
            for mount in _list(_map(container).get("volumeMounts")):
                if (
                    _is_map(mount)
                    and mount.get("mountPath") == c.SERVICE_ACCOUNT_MOUNT_PATH
                    and isinstance(mount.get("name"), str)
                ):
                    return [b.mount(mount["name"], c.SERVICE_ACCOUNT_MOUNT_PATH, read_only=True)]
    return []


def _pvc_volume_names(volumes: Sequence[Any]) -> frozenset[str]:
    """Names of the pod's volumes that are PVCs."""
    return frozenset(
        v["name"]
        for v in volumes
        if _is_map(v) and isinstance(v.get("name"), str) and _is_map(v.get("persistentVolumeClaim"))
    )


def _uses_volume(container: Mapping[str, Any], names: frozenset[str]) -> bool:
    """Whether the container mounts (or maps as a block device) one of ``names``."""
    return any(
        _is_map(m) and m.get("name") in names
        for field in ("volumeMounts", "volumeDevices")
        for m in _list(container.get(field))
    )


# --- shared pieces --------------------------------------------------------------------------------

_MEMORY: Mapping[str, Any] = {"medium": "Memory"}
_SC_VOLUME_FIELDS = ("mountPath", "readOnly", "mountPropagation")
"""Fields of a StorageCluster ``spec.volumes`` entry besides its name and source."""


def _env_ops(compiled: _Compiled, parent: Mapping[str, Any], base: str) -> list[PatchOp]:
    """Append the profile's env entries the parent lacks (entries set by hand are left alone)."""
    current = parent.get("env")
    present = {
        name for e in _list(current) if _is_map(e) and isinstance(name := e.get("name"), str)
    }
    if compiled.env_names <= present:
        return []
    if type(current) is list and present.isdisjoint(compiled.env_names):
        return list(compiled.env_appends(base))  # the usual case: none of ours there yet
    return _append(parent, "env", base, [e for e in compiled.env if e["name"] not in present])


def _tls_ops(
    compiled: _Compiled,
    spec: Mapping[str, Any],
    base: str,
    containers: Sequence[tuple[Mapping[str, Any], str]],
) -> list[PatchOp]:
    """The TLS Secret volume (when the profile has one and the pod lacks it) and its mounts.

    Callers have checked `_tls_volume_conflict` and `_path_conflict` first.
    """
    if compiled.tls_volume is None or compiled.tls_mount is None:
        return []
    ops: list[PatchOp] = []
    for container, cbase in containers:
        if not _mounts(container, c.TLS_VOLUME_NAME):
            ops += _append(container, "volumeMounts", cbase, [compiled.tls_mount])
    if _find(spec.get("volumes"), c.TLS_VOLUME_NAME) is None:
        ops += _append(spec, "volumes", base, [compiled.tls_volume])
    return ops


def _tls_volume_conflict(compiled: _Compiled, spec: Mapping[str, Any]) -> str | None:
    """A warning when the pod has a ``vsi-vault-tls`` volume that is not the profile's Secret."""
    if compiled.tls_volume is None:
        return None
    index = _find(spec.get("volumes"), c.TLS_VOLUME_NAME)
    secret = compiled.profile.connection.tls_secret
    if index is None or _is_volume(spec["volumes"][index], "secret", {"secretName": secret}):
        return None
    return _foreign_volume(c.TLS_VOLUME_NAME, f"Secret {secret}")


def _path_conflict(containers: Iterable[Any], volume: str, path: str) -> str | None:
    """A warning when a container mounts another volume at ``path`` (the apiserver rejects two
    mounts at one path in a container, so ours would make the whole pod fail)."""
    for container in containers:
        other = _mounted_at(_map(container).get("volumeMounts"), volume, path)
        if other is not None:
            name = str(_map(container).get("name"))[:40]
            return f"container {name} already mounts {other} at {path}; {_UNCHANGED}"
    return None


def _mounted_at(mounts: Any, volume: str, path: str) -> str | None:
    """The name of a volume other than ``volume`` that ``mounts`` place at ``path``, or None."""
    wanted = posixpath.normpath(path)
    for mount in _list(mounts):
        mount_path, name = _map(mount).get("mountPath"), _map(mount).get("name")
        if (
            name != volume
            and isinstance(mount_path, str)
            and posixpath.normpath(mount_path) == wanted
        ):
            return str(name)[:40]
    return None


def _foreign_volume(name: str, expected: str) -> str:
    return f"volume {name} exists but is not {expected}; {_UNCHANGED}"


def _is_volume(
    volume: Any, source: str, expected: Mapping[str, Any], extra: Sequence[str] = ()
) -> bool:
    """Whether ``volume`` has exactly one source, ``source``, whose fields include ``expected``.

    ``extra`` names non-source fields besides ``name`` (a StorageCluster volume's mountPath...).
    """
    volume = _map(volume)
    details = volume.get(source)
    if not _is_map(details) or any(details.get(k) != v for k, v in expected.items()):
        return False
    return all(key in ("name", source, *extra) for key in volume)


def _append(
    parent: Mapping[str, Any], field: str, base: str, items: Iterable[Any]
) -> list[PatchOp]:
    """`patch.append_items`, refusing to replace a non-list ``parent[field]`` (raises)."""
    _require_list(parent, field, base)
    return patch.append_items(parent, field, base, items)


def _insert(parent: Mapping[str, Any], field: str, base: str, index: int, item: Any) -> PatchOp:
    """`patch.insert_item`, refusing to replace a non-list ``parent[field]`` (raises)."""
    _require_list(parent, field, base)
    return patch.insert_item(parent, field, base, index, item)


def _require_list(parent: Mapping[str, Any], field: str, base: str) -> None:
    value = parent.get(field)
    if value is not None and not isinstance(value, list):
        raise _MalformedError(patch.join(base, field))


def _injector_user(
    spec: Mapping[str, Any], consumers: Sequence[Any], default_uid: int
) -> tuple[int, int | None, str, bool, bool]:
    """``(uid, gid, VSI_FILE_OWNER, group_readable, uid_from_pod)`` for the injector.

    The injector runs as the consumers' common non-root user when they have one, so the 0400 key
    files are theirs; otherwise as ``default_uid``, with group-readable files when the pod has an
    fsGroup (kubelet gives the emptyDir that group). Root consumers read any file.
    """
    pod_ctx = _map(spec.get("securityContext"))
    pod_uid, pod_gid, fs_group = (
        pod_ctx.get("runAsUser"),
        pod_ctx.get("runAsGroup"),
        pod_ctx.get("fsGroup"),
    )
    users: set[Any] = set()
    groups: set[Any] = set()
    for container in consumers:
        ctx = _map(_map(container).get("securityContext"))
        users.add(_id_or_none(ctx.get("runAsUser", pod_uid)))
        groups.add(_id_or_none(ctx.get("runAsGroup", pod_gid)))
    if not consumers:
        users.add(_id_or_none(pod_uid))
        groups.add(_id_or_none(pod_gid))
    fs = fs_group if _is_id(fs_group) else None
    uid = next(iter(users)) if len(users) == 1 else None
    if _is_id(uid) and uid > 0:
        group = next(iter(groups)) if len(groups) == 1 else None
        gid = group if _is_id(group) else None
        owner = f"{uid}:{gid}" if gid is not None else str(uid)
        return uid, gid, owner, False, True
    if fs is not None:
        return default_uid, None, f"{default_uid}:{fs}", True, False
    return default_uid, None, str(default_uid), False, False


def _secret_warnings(compiled: _Compiled, namespace: str, cluster: ClusterView | None) -> list[str]:
    """Warnings for connection Secrets the cache says are missing or lack their key."""
    if cluster is None or not namespace:
        return []
    conn = compiled.profile.connection
    checks: list[tuple[str | None, str | None]] = [
        (conn.secret, names.VAULT_ADDR),
        (conn.token_secret, c.TOKEN_SECRET_KEY),
        (conn.tls_secret, None),
    ]
    out: list[str] = []
    for secret, key in checks:
        if not secret:
            continue
        info = cluster.secret(namespace, secret)
        if info == "unknown":
            continue
        if info is None:
            out.append(
                f"Secret {secret} not found in namespace {namespace}; Vault connection will fail"
            )
        elif key is not None and key not in info.keys:
            out.append(f"Secret {secret} in namespace {namespace} has no key {key}")
    return out


def _seed_path(secret_source: Mapping[str, Any]) -> str:
    """File name of Rook's key inside its Secret volume (``luks_key`` via items, else the key)."""
    for item in _list(secret_source.get("items")):
        path = _map(item).get("path")
        if _map(item).get("key") == c.ROOK_SECRET_KEY and isinstance(path, str) and path:
            return path
    return c.ROOK_SECRET_KEY


def _pod_spec(obj: Mapping[str, Any], kind: str) -> tuple[str, Mapping[str, Any]]:
    """The pod spec and its pointer: ``/spec`` for a Pod, ``/spec/template/spec`` for workloads."""
    spec = _map(obj.get("spec"))
    if kind == "Pod":
        return "/spec", spec
    return "/spec/template/spec", _map(_map(spec.get("template")).get("spec"))


def _pvc_names(spec: Mapping[str, Any]) -> list[str]:
    """Claim names of the pod's PVC volumes, in order, each once (linear in the volume count)."""
    seen: dict[str, None] = {}
    for volume in _list(spec.get("volumes")):
        claim = _map(_map(volume).get("persistentVolumeClaim")).get("claimName")
        if isinstance(claim, str) and claim:
            seen[claim] = None
    return list(seen)


def _flag_value(args: Sequence[Any], flag: str) -> str | None:
    """The value of ``flag`` (``-f v``, ``--f v``, ``-f=v``) in ``args``; None when absent."""
    long = "-" + flag
    core = flag.lstrip("-")
    for index, arg in enumerate(args):
        # Most args are unrelated: one substring test rules them out before the exact checks.
        if type(arg) is not str or core not in arg:
            continue
        if arg in (flag, long):
            following = args[index + 1] if index + 1 < len(args) else ""
            return str(following)
        for prefix in (flag + "=", long + "="):
            if arg.startswith(prefix):
                return arg[len(prefix) :]
    return None


def _find(items: Any, name: str) -> int | None:
    """Index of the element named ``name`` in a list of containers or volumes."""
    for index, item in enumerate(_list(items)):
        # The dicts JSON decoding gives first: this runs for every list the rules look into.
        if (type(item) is dict or _is_map(item)) and item.get("name") == name:
            return index
    return None


def _mounts(container: Any, volume: str) -> bool:
    return _find(_map(container).get("volumeMounts"), volume) is not None


def _is_id(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _id_or_none(value: Any) -> int | None:
    """A uid/gid as given, or None for anything else (a malformed value must not be hashed)."""
    return value if _is_id(value) else None


def _is_map_or_none(value: Any) -> bool:
    return value is None or _is_map(value)


_NEVER_MAPS = frozenset({type(None), str, list, int, float, bool})
"""The other JSON types: ruled out without `Mapping`'s (slower) abstract-class check."""


def _is_map(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)`` with fast paths for the types JSON decoding gives."""
    kind = type(value)
    return kind is dict or (kind not in _NEVER_MAPS and isinstance(value, Mapping))


_EMPTY: Mapping[str, Any] = {}


def _map(value: Any) -> Mapping[str, Any]:
    return value if type(value) is dict or _is_map(value) else _EMPTY


def _list(value: Any) -> list[Any]:
    return value if type(value) is list or isinstance(value, list) else []


def _short(text: str) -> str:
    if len(text) <= c.MAX_WARNING_LENGTH:
        return text
    return text[: c.MAX_WARNING_LENGTH - 3] + "..."


def _skipped(
    reason: str, warnings: Sequence[str] = (), profile: str | None = None
) -> MutationResult:
    return MutationResult(
        outcome="skipped",
        reason=reason,
        warnings=tuple(_short(w) for w in warnings),
        profile=profile,
    )

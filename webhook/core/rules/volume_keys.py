"""Profile type ``volume-keys``: any Pod annotated ``inject: "true"`` with PVC volumes (CREATE).

``vsi-injector`` (``volume-keys`` layout) runs first and writes one 32-byte key per PVC into an
in-memory volume; only the containers that use a PVC get that volume mounted read-only (a logging
or mesh sidecar has no business reading keys).
"""

from __future__ import annotations

from vsi_common import names
from webhook.core import builders as b
from webhook.core import constants as c
from webhook.core import patch
from webhook.core.compiled import Fragments
from webhook.core.model import PatchOp
from webhook.core.profiles import Config
from webhook.core.rules import ops
from webhook.core.rules.base import POD, Plan, Rule, Subject
from webhook.core.shapes import (
    as_list,
    find,
    is_map,
    mounts,
    pvc_names,
    pvc_volume_names,
    uses_volume,
)
from webhook.core.user import injector_user


def applies(subject: Subject) -> bool | None:
    """A Pod annotated ``inject: "true"`` that has at least one PVC volume; CREATE only."""
    if subject.annotations.get(c.ANNOTATION_INJECT) == c.INJECT_TRUE and pvc_names(subject.spec):
        return subject.creating
    return None


def plan(frags: Fragments, subject: Subject, config: Config) -> Plan:
    """The injector first, the in-memory key volume, its mounts in the PVC users, TLS."""
    spec, base = subject.spec, subject.base
    containers = as_list(spec.get("containers"))
    volumes = as_list(spec.get("volumes"))
    path = config.key_volume.mount_path
    kindex = find(volumes, c.KEY_VOLUME_NAME)
    if kindex is not None and not ops.is_volume(volumes[kindex], "emptyDir", ops.MEMORY):
        # Keys must never reach a disk, and a foreign volume is never mounted into the injector.
        return ops.conflict(ops.foreign_volume(c.KEY_VOLUME_NAME, "an emptyDir with medium Memory"))
    problem = (
        ops.tls_volume_conflict(frags, volumes)
        or ops.vault_token_conflict(frags, volumes)
        or ops.path_conflict(containers, c.KEY_VOLUME_NAME, path)
    )
    if problem:
        return ops.conflict(problem)
    planned: list[PatchOp] = []
    warnings: list[str] = []
    injected = ops.has_injector(spec)
    added = []
    if not injected:
        planned.append(_injector(frags, subject, config, warnings))
        added += ops.vault_token_volumes(frags, spec)
    if kindex is None:
        added.append(b.memory_volume(c.KEY_VOLUME_NAME, config.key_volume))
    planned += ops.append(spec, "volumes", base, added)
    # Only the containers that use a PVC get the keys: a logging or mesh sidecar (also one another
    # webhook adds later, on reinvocation) has no business reading them.
    claims = pvc_volume_names(volumes)
    key_mount = b.mount(c.KEY_VOLUME_NAME, path, read_only=True)
    consumers = 0
    for index, container in enumerate(containers):
        if not is_map(container) or not uses_volume(container, claims):
            continue
        consumers += 1
        if mounts(container, c.KEY_VOLUME_NAME):
            continue
        cbase = patch.join(base, "containers", index)
        planned += ops.append(container, "volumeMounts", cbase, [key_mount])
    if not consumers and not injected:
        warnings.append("no container mounts a PVC volume; the key files are mounted nowhere")
    planned += ops.tls_ops(frags, spec, base, [])
    return Plan(planned, warnings)


def _injector(frags: Fragments, subject: Subject, config: Config, warnings: list[str]) -> PatchOp:
    """The op inserting the injector as the first init container (a warning when it runs as a
    user no container shares)."""
    spec, base = subject.spec, subject.base
    path = config.key_volume.mount_path
    user = injector_user(spec, as_list(spec.get("containers")), config.injector.run_as_user)
    if not user.from_pod and not user.group_readable:
        warnings.append(
            "pod names no non-root user or fsGroup; key files are readable by root only"
        )
    container_mounts = [b.mount(c.KEY_VOLUME_NAME, path, read_only=False)]
    container_mounts += ops.vault_token_mounts(frags)
    if frags.tls_mount is not None:
        container_mounts.append(frags.tls_mount)
    env = b.injector_env(
        layout=names.LAYOUT_VOLUME_KEYS,
        volumes=pvc_names(spec),
        output_dir=path,
        user=user,
        tls_dir=frags.tls_dir,
    )
    container = b.injector_container(
        config.injector, env=[*env, *frags.injector_env], mounts=container_mounts, user=user
    )
    return ops.insert(spec, "initContainers", base, 0, container)


RULE = Rule(c.TYPE_VOLUME_KEYS, frozenset({POD}), applies, plan)
"""The ``volume-keys`` rule."""

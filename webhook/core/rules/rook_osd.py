"""Profile type ``rook-osd``: an encrypted Rook OSD-on-PVC Pod in Rook's default mode (CREATE).

Rook's operator keeps each OSD's dm-crypt key in a Secret ``rook-ceph-osd-encryption-key-<pvc>``
that the pod mounts as volume ``osd-encryption-key``. The rule puts ``vsi-injector`` (``rook``
layout) before the first init container that reads that volume, turns the volume into an in-memory
one the injector fills with ``luks_key`` from Vault, and keeps Rook's Secret mounted read-only for
the injector alone as the seed it stores in Vault once. An OSD pod in Rook's KMS mode (its key
volume an ``emptyDir`` that ``encryption-kms-get-kek`` fills) is the ``rook-kms`` type's
(`webhook.core.rules.rook` tells the two apart).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vsi_common import names
from webhook.core import builders as b
from webhook.core import constants as c
from webhook.core import patch
from webhook.core.compiled import Fragments, Json
from webhook.core.model import PatchOp
from webhook.core.profiles import Config
from webhook.core.rules import ops, rook
from webhook.core.rules.base import POD, UNCHANGED, Plan, Rule, Subject
from webhook.core.shapes import as_list, as_map, find, is_map, mounts, pvc_names
from webhook.core.user import injector_user


def applies(subject: Subject) -> bool | None:
    """A Pod labelled as an OSD on a PVC, with Rook's key volume in default mode (Rook's Secret,
    or the in-memory volume this rule made of it); CREATE only. KMS mode is ``rook-kms``'s."""
    volume = rook.osd_key_volume(subject)
    if volume is None or rook.kms_mode(subject.spec, volume):
        return None
    return subject.creating


def plan(frags: Fragments, subject: Subject, config: Config) -> Plan:
    """The injector before Rook's key readers, the key volume in memory, the TLS volume."""
    spec = subject.spec
    if find(spec.get("initContainers"), c.ROOK_KMS_INIT_CONTAINER) is not None:
        warning = (
            f"Rook fetches this OSD key from its own KMS ({c.ROOK_KMS_INIT_CONTAINER}); "
            "pod left unchanged"
        )
        return Plan([], [warning], c.SKIP_KMS_MANAGED)
    pvc = subject.labels.get(c.ROOK_PVC_LABEL)
    if not isinstance(pvc, str) or pvc not in pvc_names(spec):
        # Otherwise a look-alike pod could have the injector read (or create) another OSD's key.
        return ops.conflict(
            f"label {c.ROOK_PVC_LABEL} {str(pvc)[:40]} names none of the pod's PVC volumes; "
            "pod left unchanged"
        )
    volumes = spec["volumes"]
    vindex = find(volumes, c.ROOK_KEY_VOLUME)
    assert vindex is not None  # matched by `applies`
    volume = volumes[vindex]
    problem = ops.tls_volume_conflict(frags, volumes) or ops.vault_token_conflict(frags, volumes)
    if problem:
        return ops.conflict(problem)
    planned: list[PatchOp] = []
    if not ops.has_injector(spec):
        injection = _injection(frags, subject, config, pvc, as_map(volume))
        if isinstance(injection, Plan):
            return injection
        planned = injection
    if not ops.is_volume(volume, "emptyDir", ops.MEMORY):
        memory = b.memory_volume(c.ROOK_KEY_VOLUME, config.key_volume)
        planned.append(patch.replace(patch.join(subject.base, "volumes", vindex), memory))
    planned += ops.tls_ops(frags, spec, subject.base, [])
    return Plan(planned)


def _injection(
    frags: Fragments, subject: Subject, config: Config, pvc: str, volume: Mapping[str, Any]
) -> list[PatchOp] | Plan:
    """The ops that add the injector (and the seed volume), or a skip `Plan`."""
    spec, base = subject.spec, subject.base
    init = as_list(spec.get("initContainers"))
    consumers = [i for i, container in enumerate(init) if mounts(container, c.ROOK_KEY_VOLUME)]
    position = consumers[0] if consumers else 0
    user = injector_user(spec, [init[i] for i in consumers], config.injector.run_as_user)
    planned: list[PatchOp] = []
    container_mounts = [b.mount(c.ROOK_KEY_VOLUME, config.key_volume.mount_path, read_only=False)]
    container_mounts += ops.vault_token_mounts(frags)
    seed_file = None
    seed = volume.get("secret")
    if is_map(seed):
        seeded = _seed(seed, spec, base)
        if isinstance(seeded, Plan):
            return seeded
        seed_file, seed_ops = seeded
        planned += seed_ops
        container_mounts.append(b.mount(c.SEED_VOLUME_NAME, c.SEED_MOUNT_PATH, read_only=True))
    if frags.tls_mount is not None:
        container_mounts.append(frags.tls_mount)
    env = b.injector_env(
        layout=names.LAYOUT_ROOK,
        volumes=[pvc],
        output_dir=config.key_volume.mount_path,
        user=user,
        seed_file=seed_file,
        tls_dir=frags.tls_dir,
    )
    container = b.injector_container(
        config.injector, env=[*env, *frags.injector_env], mounts=container_mounts, user=user
    )
    planned += ops.append(spec, "volumes", base, ops.vault_token_volumes(frags, spec))
    return [ops.insert(spec, "initContainers", base, position, container), *planned]


def _seed(
    seed: Mapping[str, Any], spec: Mapping[str, Any], base: str
) -> tuple[str, list[PatchOp]] | Plan:
    """Rook's key Secret as the injector's read-only seed volume: its file and ops, or a skip."""
    seed_secret = seed.get("secretName")
    if not isinstance(seed_secret, str) or not seed_secret:
        return ops.malformed(f"volume {c.ROOK_KEY_VOLUME} names no Secret; {UNCHANGED}")
    seed_file = f"{c.SEED_MOUNT_PATH}/{_seed_path(seed)}"
    volumes = as_list(spec.get("volumes"))
    sindex = find(volumes, c.SEED_VOLUME_NAME)
    if sindex is not None:
        if not ops.is_volume(volumes[sindex], "secret", {"secretName": seed_secret}):
            return ops.conflict(ops.foreign_volume(c.SEED_VOLUME_NAME, f"Secret {seed_secret}"))
        return seed_file, []
    # 0444: the injector runs as a non-root uid; only the injector mounts this volume.
    source: Json = {k: v for k, v in seed.items() if k != "defaultMode"}
    source["defaultMode"] = 0o444
    volume = {"name": c.SEED_VOLUME_NAME, "secret": source}
    return seed_file, [patch.add(patch.join(base, "volumes", "-"), volume)]


def _seed_path(secret_source: Mapping[str, Any]) -> str:
    """File name of Rook's key inside its Secret volume (``luks_key`` via items, else the key)."""
    for item in as_list(secret_source.get("items")):
        path = as_map(item).get("path")
        if as_map(item).get("key") == c.ROOK_SECRET_KEY and isinstance(path, str) and path:
            return path
    return c.ROOK_SECRET_KEY


RULE = Rule(c.TYPE_ROOK_OSD, frozenset({POD}), applies, plan)
"""The ``rook-osd`` rule."""

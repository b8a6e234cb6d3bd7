"""Profile type ``rook-kms``: Rook-Ceph in Vault-KMS mode, keys born in Vault (Pods, CREATE).

The CephCluster's ``security.kms`` holds only what Rook insists on (``KMS_PROVIDER: vault``,
``VAULT_ADDR``, the auth choice); the profile holds the rest of the connection. By pod shape:

- Rook's operator (``app=rook-ceph-operator``, a container running ``rook ceph operator``), the
  OSD prepare pods (``app=rook-ceph-osd-prepare``, container ``provision`` with
  ``ROOK_ENCRYPTED_DEVICE=true`` and ``KMS_PROVIDER=vault``) and the key-rotation pods
  (``app=rook-ceph-osd-key-rotation``, ``rook key-management rotate-key``): that container gets
  the profile's VAULT_* env where Rook did not set the variable itself (never the address, the
  auth choice or a credential: `constants.ROOK_OWN_SETTINGS`), and the TLS files read-only at
  `constants.TLS_MOUNT_PATH`, a path Rook reads as a file path.
- The OSD pods (volume ``osd-encryption-key`` an in-memory ``emptyDir``, init container
  ``encryption-kms-get-kek``): that init container is replaced in place by ``vsi-injector``
  (``rook`` layout, no seed: a missing key fails closed, nothing is created), which writes
  ``luks_key`` into the same volume before ``encryption-open`` reads it, checks it against the
  data PVC's LUKS header when an earlier init container maps the PVC as a block device, and needs
  no API access to the CephCluster or to Secrets.

A pod whose shape differs (another Rook version) is left alone with a warning naming what was
expected (``unexpected-shape``); a pod whose Rook settings put the keys on another KV mount or
Vault namespace than the profile is left to Rook (``conflict``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from vsi_common import names
from webhook.core import builders as b
from webhook.core import constants as c
from webhook.core import patch
from webhook.core.compiled import Fragments, Json
from webhook.core.model import PatchOp
from webhook.core.profiles import Config
from webhook.core.rules import ops, rook
from webhook.core.rules.base import POD, UNCHANGED, Plan, Rule, Subject
from webhook.core.rules.rook import Kek, find_kek, unexpected_shape
from webhook.core.shapes import as_list, find
from webhook.core.user import InjectorUser, injector_user

LOCATION_SETTINGS: Final = (
    (names.VAULT_BACKEND_PATH, c.ROOK_DEFAULT_BACKEND_PATH),
    (names.VAULT_NAMESPACE, ""),
)
"""Settings that say where the keys are, with the value Rook (and the injector) use when unset."""


def applies(subject: Subject) -> bool | None:
    """One of Rook's four KMS-mode pod shapes (by label and what the pod runs); CREATE only."""
    app = subject.labels.get(c.ROOK_APP_LABEL)
    if app == c.ROOK_OSD_APP:
        volume = rook.osd_key_volume(subject)
        if volume is None or not rook.kms_mode(subject.spec, volume):
            return None
    elif app == c.ROOK_PREPARE_APP:
        encrypted = (c.ROOK_ENCRYPTED_DEVICE_ENV, "true")
        if rook.kms_container(subject.spec, encrypted) is None:
            return None  # an unencrypted OSD, or Rook's default mode: nothing for Vault to do
    elif app == c.ROOK_KEY_ROTATION_APP:
        if rook.kms_container(subject.spec) is None:
            return None
    elif app != c.ROOK_OPERATOR_APP:
        return None
    return subject.creating


def plan(frags: Fragments, subject: Subject, config: Config) -> Plan:
    """The plan for the Rook pod ``applies`` recognised."""
    app = subject.labels.get(c.ROOK_APP_LABEL)
    if app == c.ROOK_OSD_APP:
        return _osd(frags, subject, config)
    index, expected = _rook_process(subject.spec, str(app))
    if index is None:
        return unexpected_shape(f"a container running {expected}")
    return _rook_container(frags, subject, index)


def unconfigured(subject: Subject) -> Plan | None:
    """A KMS-mode OSD pod when no rook-kms profile is configured: Rook keeps fetching its key."""
    if subject.labels.get(c.ROOK_APP_LABEL) != c.ROOK_OSD_APP:
        return None
    warning = (
        f"Rook fetches this OSD key itself ({c.ROOK_KMS_INIT_CONTAINER}): no {c.TYPE_ROOK_KMS} "
        f"profile is configured; {UNCHANGED}"
    )
    return Plan([], [warning], c.SKIP_KMS_MANAGED)


def _rook_process(spec: Mapping[str, Any], app: str) -> tuple[int | None, str]:
    """The container of ``app``'s pod that runs Rook's Vault client, and how it is described."""
    containers = as_list(spec.get("containers"))
    if app == c.ROOK_OPERATOR_APP:
        index = next(
            (i for i, ct in enumerate(containers) if rook.runs(ct, c.ROOK_OPERATOR_ARGS)), None
        )
        return index, "rook " + " ".join(c.ROOK_OPERATOR_ARGS)
    if app == c.ROOK_PREPARE_APP:
        index = find(containers, c.ROOK_PROVISION_CONTAINER)
        if index is not None and not rook.runs(containers[index], c.ROOK_PROVISION_ARGS):
            index = None
        return index, f"{c.ROOK_PROVISION_CONTAINER}: rook " + " ".join(c.ROOK_PROVISION_ARGS)
    index = next((i for i, ct in enumerate(containers) if rook.runs(ct, c.ROOK_ROTATE_ARGS)), None)
    return index, "rook " + " ".join(c.ROOK_ROTATE_ARGS)


def _rook_container(frags: Fragments, subject: Subject, index: int) -> Plan:
    """The profile's env (where Rook set none) and the TLS files for Rook's own container."""
    spec, base = subject.spec, subject.base
    container = spec["containers"][index]
    problem = ops.tls_conflict(frags, spec, container)
    if problem:
        return ops.conflict(problem)
    cbase = patch.join(base, "containers", index)
    planned = ops.env_ops(frags, container, cbase, frags.rook_env)
    planned += ops.tls_ops(frags, spec, base, [(container, cbase)])
    mismatch = _location_mismatch(frags, container)
    return Plan(planned, [f"{mismatch}: set it in security.kms"] if mismatch else [])


def _location_mismatch(frags: Fragments, container: Any) -> str | None:
    """``Rook reads keys from <setting> <its value>, the profile from <ours>`` when Rook set a
    key location of its own (from the CephCluster) that is not the profile's: the injector would
    then look for the keys where Rook did not put them. None when they agree."""
    connection = frags.profile.connection
    if connection.secret is not None:
        return None  # a px-vault style Secret: its values are not the webhook's to read
    values = dict(connection.values)
    for name, default in LOCATION_SETTINGS:
        theirs = rook.env_value(container, name)
        ours = values.get(name, default)
        if theirs is not None and theirs.strip("/") != ours.strip("/"):
            return (
                f"Rook reads keys from {name} {theirs[:30] or '(none)'}, the profile from "
                f"{ours[:30] or '(none)'}"
            )
    return None


def _osd(frags: Fragments, subject: Subject, config: Config) -> Plan:
    """``vsi-injector`` in place of ``encryption-kms-get-kek``, then the TLS volume."""
    spec, base = subject.spec, subject.base
    volumes = spec.get("volumes")
    problem = ops.tls_volume_conflict(frags, volumes) or ops.vault_token_conflict(frags, volumes)
    if problem:
        return ops.conflict(problem)
    if ops.has_injector(spec):
        return Plan(ops.tls_ops(frags, spec, base, []))
    kek = find_kek(subject)
    if isinstance(kek, Plan):
        return kek
    mismatch = _location_mismatch(frags, kek.container)
    if mismatch:
        return ops.conflict(f"{mismatch}; {UNCHANGED}")
    planned: list[PatchOp] = []
    warnings: list[str] = []
    if kek.device is None:
        warnings.append(
            "no earlier init container maps the OSD's PVC as a block device: the key is not "
            "checked against its LUKS header"
        )
    else:
        lock = _lock_volume(spec, base)
        if isinstance(lock, Plan):
            return lock
        planned += lock
    injector = _injector(frags, spec, config, kek)
    planned.insert(0, patch.replace(patch.join(base, "initContainers", kek.index), injector))
    planned += ops.append(spec, "volumes", base, ops.vault_token_volumes(frags, spec))
    planned += ops.tls_ops(frags, spec, base, [])
    return Plan(planned, warnings)


def _lock_volume(spec: Mapping[str, Any], base: str) -> list[PatchOp] | Plan:
    """The in-memory volume for cryptsetup's locks: added, kept when ours, else a conflict."""
    volumes = as_list(spec.get("volumes"))
    index = find(volumes, c.CRYPTSETUP_LOCK_VOLUME)
    if index is None:
        return ops.append(spec, "volumes", base, [b.cryptsetup_lock_volume()])
    if ops.is_volume(volumes[index], "emptyDir", ops.MEMORY):
        return []
    return ops.conflict(
        ops.foreign_volume(c.CRYPTSETUP_LOCK_VOLUME, "an emptyDir with medium Memory")
    )


def _injector(frags: Fragments, spec: Mapping[str, Any], config: Config, kek: Kek) -> Json:
    """The ``vsi-injector`` container that does ``encryption-kms-get-kek``'s job."""
    user = injector_user(spec, kek.readers, config.injector.run_as_user)
    path = config.key_volume.mount_path
    mounts = [b.mount(c.ROOK_KEY_VOLUME, path, read_only=False)]
    mounts += ops.vault_token_mounts(frags)
    if frags.tls_mount is not None:
        mounts.append(frags.tls_mount)
    verify = None
    if kek.device is not None:
        user = _block_reader(user)
        mounts.append(b.mount(c.CRYPTSETUP_LOCK_VOLUME, c.CRYPTSETUP_LOCK_DIR, read_only=False))
        verify = str(kek.device["devicePath"])
    env = b.injector_env(
        layout=names.LAYOUT_ROOK,
        volumes=[kek.pvc],
        output_dir=path,
        user=user,
        tls_dir=frags.tls_dir,
        verify_luks=verify,
    )
    container = b.injector_container(
        config.injector, env=[*env, *frags.injector_env], mounts=mounts, user=user
    )
    if kek.device is not None:
        container["volumeDevices"] = [dict(kek.device)]
    return container


def _block_reader(user: InjectorUser) -> InjectorUser:
    """``user`` in the ``disk`` group, which owns block devices (mode 0660) on the nodes, so the
    LUKS header can be read without root; the key file stays the user's own (mode 0400)."""
    owner = user.owner if user.group_readable else str(user.uid)
    return InjectorUser(user.uid, c.DISK_GROUP, owner, user.group_readable, user.from_pod)


RULE = Rule(c.TYPE_ROOK_KMS, frozenset({POD}), applies, plan, unconfigured)
"""The ``rook-kms`` rule."""

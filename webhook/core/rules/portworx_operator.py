"""Profile type ``portworx-operator``: the Portworx Operator's StorageCluster (CREATE, UPDATE).

The operator renders the DaemonSet from ``spec``, so the rule sets ``spec.env``,
``spec.secretsProvider: vault`` and a ``spec.volumes`` entry for the TLS Secret (the operator's
volume shape carries its own ``mountPath``). ``spec`` is untyped before schema validation: a value
that is not a mapping is ``malformed``, another secrets provider a ``conflict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from webhook.core import constants as c
from webhook.core import patch
from webhook.core.compiled import CompiledProfile, Json
from webhook.core.profiles import Config
from webhook.core.rules import ops
from webhook.core.rules.base import UNCHANGED, Plan, Rule, Subject
from webhook.core.shapes import as_list, find, is_map

SC_VOLUME_FIELDS: Final = ("mountPath", "readOnly", "mountPropagation")
"""Fields of a StorageCluster ``spec.volumes`` entry besides its name and source."""


def applies(subject: Subject) -> bool | None:
    """A ``core.libopenstorage.org`` StorageCluster (the only kind this rule is asked about)."""
    return True


def plan(compiled: CompiledProfile, subject: Subject, config: Config) -> Plan:
    """``spec.env``, ``spec.secretsProvider`` and the TLS volume."""
    spec = subject.obj.get("spec")
    if spec is None:
        value: Json = {"env": list(compiled.env), "secretsProvider": c.SECRET_TYPE_VAULT}
        if compiled.sc_tls_volume is not None:
            value["volumes"] = [compiled.sc_tls_volume]
        return Plan([patch.add("/spec", value)])
    if not is_map(spec):
        return ops.malformed(f"spec is not a mapping; {UNCHANGED}")
    provider = spec.get("secretsProvider")
    if provider is not None and provider != c.SECRET_TYPE_VAULT:
        shown = str(provider)[:40]
        return ops.conflict(
            f"StorageCluster sets secretsProvider {shown}; Vault settings not added"
        )
    tls = compiled.sc_tls_volume
    if tls is not None:
        problem = _tls_conflict(spec, tls)
        if problem:
            return ops.conflict(problem)
    planned = ops.env_ops(compiled, spec, "/spec")
    if provider is None:
        planned.append(patch.add("/spec/secretsProvider", c.SECRET_TYPE_VAULT))
    if tls is not None and find(spec.get("volumes"), c.TLS_VOLUME_NAME) is None:
        planned += ops.append(spec, "volumes", "/spec", [tls])
    return Plan(planned)


def _tls_conflict(spec: Mapping[str, Any], tls: Json) -> str | None:
    """Operator volumes carry their own mountPath: ours must be the profile's Secret at ours."""
    volumes = as_list(spec.get("volumes"))
    index = find(volumes, c.TLS_VOLUME_NAME)
    secret = tls["secret"]
    if index is not None and not (
        ops.is_volume(volumes[index], "secret", secret, SC_VOLUME_FIELDS)
        and volumes[index].get("mountPath") == c.TLS_MOUNT_PATH
    ):
        expected = f"Secret {secret['secretName']} at {c.TLS_MOUNT_PATH}"
        return ops.foreign_volume(c.TLS_VOLUME_NAME, expected)
    other = ops.mounted_at(volumes, c.TLS_VOLUME_NAME, c.TLS_MOUNT_PATH)
    if other is not None:
        return f"StorageCluster volume {other} is mounted at {c.TLS_MOUNT_PATH}; {UNCHANGED}"
    return None


RULE = Rule(
    c.TYPE_PORTWORX_OPERATOR,
    frozenset({(c.STORAGE_CLUSTER_GROUP, c.STORAGE_CLUSTER_KIND)}),
    applies,
    plan,
)
"""The ``portworx-operator`` rule."""

"""Profile type ``portworx-operator``: the Portworx Operator's StorageCluster (CREATE, UPDATE),
and the operator's pods (CREATE), which get what the StorageCluster path would have given them
where it did not (`webhook.core.rules.operator_pods`: nothing when it did, every setting in
pods-only mode).

The operator renders its Portworx pods from ``spec``, so the rule sets ``spec.secretsProvider:
vault``, a ``spec.volumes`` entry projecting the TLS files (the operator's volume shape carries
its own ``mountPath``) and ``spec.env``: the profile's VAULT_* env where Portworx's own lookup
does not read px-vault elsewhere (by default it reads it in the StorageCluster's namespace:
`webhook.core.rules.px`). ``spec`` is untyped before schema validation: a value that is not a
mapping is ``malformed``, another secrets provider a ``conflict`` whose warnings say what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from webhook.core import constants as c
from webhook.core import patch
from webhook.core.compiled import Fragments, Json
from webhook.core.profiles import Config
from webhook.core.rules import operator_pods, ops, px
from webhook.core.rules.base import POD, UNCHANGED, Plan, Rule, Subject
from webhook.core.shapes import as_list, find, is_map

SC_VOLUME_FIELDS: Final = ("mountPath", "readOnly", "mountPropagation")
"""Fields of a StorageCluster ``spec.volumes`` entry besides its name and source."""


def applies(subject: Subject) -> bool | None:
    """A ``core.libopenstorage.org`` StorageCluster, or a pod the operator made from one."""
    if subject.kind == "Pod":
        return operator_pods.applies(subject)
    return True


def plan(frags: Fragments, subject: Subject, config: Config) -> Plan:
    """``spec.env``, ``spec.secretsProvider`` and the TLS volume (for a pod, what the operator
    renders of them)."""
    if subject.kind == "Pod":
        return operator_pods.plan(frags, subject, config)
    spec = subject.obj.get("spec")
    if spec is not None and not is_map(spec):
        return ops.malformed(f"spec is not a mapping; {UNCHANGED}")
    spec = spec or {}
    namespace = subject.namespace
    provider = spec.get("secretsProvider")
    if provider is not None and provider != c.SECRET_TYPE_VAULT:
        where = px.secrets_namespace(spec.get("env"), namespace, namespace)
        warnings = px.switch_refused("StorageCluster sets secretsProvider", str(provider), where)
        return Plan([], warnings, c.SKIP_CONFLICT)
    account = f"{namespace}/{c.PX_OPERATOR_SERVICE_ACCOUNT}"
    env = px.env_plan(frags, spec.get("env"), namespace, subject, account)
    tls = frags.sc_tls_volume
    problem = env.conflict or (_tls_conflict(frags, spec) if tls is not None else None)
    if problem:
        return ops.conflict(problem)
    done = Plan([], list(env.warnings), secret_namespace=env.secret_namespace)
    if subject.obj.get("spec") is None:
        value: Json = {
            "env": list(frags.env if env.wanted is None else env.wanted),
            "secretsProvider": c.SECRET_TYPE_VAULT,
        }
        if tls is not None:
            value["volumes"] = [tls]
        done.ops.append(patch.add("/spec", value))
        return done
    done.ops += ops.env_ops(frags, spec, "/spec", env.wanted)
    if provider is None:
        done.ops.append(patch.add("/spec/secretsProvider", c.SECRET_TYPE_VAULT))
    if tls is not None:
        index = find(spec.get("volumes"), c.TLS_VOLUME_NAME)
        if index is None:
            done.ops += ops.append(spec, "volumes", "/spec", [tls])
        elif spec["volumes"][index] != tls:  # ours (checked above), for another TLS shape
            done.ops.append(patch.replace(patch.join("/spec", "volumes", index), tls))
    return done


def _tls_conflict(frags: Fragments, spec: Mapping[str, Any]) -> str | None:
    """Operator volumes carry their own mountPath: ours must project the profile's TLS Secrets
    at ours, and no other volume may sit there."""
    volumes = as_list(spec.get("volumes"))
    problem = ops.tls_volume_conflict(frags, volumes, SC_VOLUME_FIELDS)
    index = find(volumes, c.TLS_VOLUME_NAME)
    if (
        problem is None
        and index is not None
        and volumes[index].get("mountPath") != c.TLS_MOUNT_PATH
    ):
        problem = ops.foreign_volume(c.TLS_VOLUME_NAME, f"mounted at {c.TLS_MOUNT_PATH}")
    if problem:
        return problem
    other = ops.mounted_at(volumes, c.TLS_VOLUME_NAME, c.TLS_MOUNT_PATH)
    if other is not None:
        return f"StorageCluster volume {other} is mounted at {c.TLS_MOUNT_PATH}; {UNCHANGED}"
    return None


RULE = Rule(
    c.TYPE_PORTWORX_OPERATOR,
    frozenset({(c.STORAGE_CLUSTER_GROUP, c.STORAGE_CLUSTER_KIND), POD}),
    applies,
    plan,
)
"""The ``portworx-operator`` rule."""

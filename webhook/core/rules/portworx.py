"""Profile type ``portworx``: the Portworx DaemonSet (CREATE, UPDATE) and its Pods (CREATE).

The ``portworx`` container gets the profile's VAULT_* env (px-vault style ``secretKeyRef``s or
values), ``-secret_type vault`` unless it already names a provider, and the TLS mount with the
paths of exactly the TLS files that exist (Portworx fails on a path to a missing file). A
container that selects another secrets provider is a ``conflict``: its settings are never changed.
"""

from __future__ import annotations

from webhook.core import constants as c
from webhook.core import patch
from webhook.core.compiled import Fragments
from webhook.core.profiles import Config
from webhook.core.rules import ops
from webhook.core.rules.base import POD, Plan, Rule, Subject
from webhook.core.shapes import as_list, find, flag_value


def applies(subject: Subject) -> bool | None:
    """A DaemonSet or Pod with a ``portworx`` container; Pods on CREATE only."""
    if find(subject.spec.get("containers"), c.PORTWORX_CONTAINER) is None:
        return None
    return subject.creating or subject.kind == "DaemonSet"


def plan(frags: Fragments, subject: Subject, config: Config) -> Plan:
    """Env, ``-secret_type vault`` and the TLS mount for the ``portworx`` container."""
    spec, base = subject.spec, subject.base
    index = find(spec.get("containers"), c.PORTWORX_CONTAINER)
    assert index is not None  # matched by `applies`
    container = spec["containers"][index]
    secret_type = flag_value(as_list(container.get("args")), c.SECRET_TYPE_FLAG)
    if secret_type is not None and secret_type != c.SECRET_TYPE_VAULT:
        shown = secret_type[:40]
        return ops.conflict(
            f"container portworx sets -secret_type {shown}; Vault settings not added"
        )
    problem = ops.tls_conflict(frags, spec, container)
    if problem:
        return ops.conflict(problem)
    cbase = patch.join(base, "containers", index)
    planned = ops.env_ops(frags, container, cbase)
    if secret_type is None:
        planned += ops.append(container, "args", cbase, [c.SECRET_TYPE_FLAG, c.SECRET_TYPE_VAULT])
    planned += ops.tls_ops(frags, spec, base, [(container, cbase)])
    return Plan(planned)


RULE = Rule(c.TYPE_PORTWORX, frozenset({("apps", "DaemonSet"), POD}), applies, plan)
"""The ``portworx`` rule."""

"""Profile type ``portworx``: the Portworx DaemonSet (CREATE, UPDATE) and its Pods (CREATE).

The ``portworx`` container gets ``-secret_type vault`` unless it already names a provider, the
TLS mount with the paths of exactly the TLS files that exist (Portworx fails on a path to a
missing file), and the profile's VAULT_* env (px-vault style ``secretKeyRef``s or values) where
Portworx's own lookup does not read the Secret elsewhere (`webhook.core.rules.px`). A container
that selects another secrets provider is a ``conflict``: its settings are never changed, and the
warnings say what to do next. A pod the Portworx operator renders is the ``portworx-operator``
type's (`webhook.core.rules.operator_pods`): the built-in ``portworx`` profile never applies to it.
"""

from __future__ import annotations

from webhook.core import constants as c
from webhook.core.compiled import Fragments
from webhook.core.profiles import Config
from webhook.core.rules import operator_pods, px
from webhook.core.rules.base import POD, Plan, Rule, Subject
from webhook.core.shapes import find


def applies(subject: Subject) -> bool | None:
    """A DaemonSet or Pod with a ``portworx`` container; Pods on CREATE only. A pod of the
    Portworx operator is the ``portworx-operator`` type's (`webhook.core.rules.operator_pods`)."""
    if find(subject.spec.get("containers"), c.PORTWORX_CONTAINER) is None:
        return None
    if subject.kind == "Pod" and operator_pods.storage_cluster_of(subject.obj) is not None:
        return None
    return subject.creating or subject.kind == "DaemonSet"


def plan(frags: Fragments, subject: Subject, config: Config) -> Plan:
    """``-secret_type vault``, the TLS mount and the env for the ``portworx`` container."""
    _, container, secret_type = px.portworx_container(subject)
    if secret_type is not None and secret_type != c.SECRET_TYPE_VAULT:
        where = px.secrets_namespace(
            container.get("env"), c.PX_DAEMONSET_SECRETS_NAMESPACE, subject.namespace
        )
        warnings = px.switch_refused("container portworx sets -secret_type", secret_type, where)
        return Plan([], warnings, c.SKIP_CONFLICT)
    return px.wire_container(frags, subject, c.PX_DAEMONSET_SECRETS_NAMESPACE)


RULE = Rule(c.TYPE_PORTWORX, frozenset({("apps", "DaemonSet"), POD}), applies, plan)
"""The ``portworx`` rule."""

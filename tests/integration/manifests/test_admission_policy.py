"""The ValidatingAdmissionPolicy that holds the certificate bootstrap to the caBundle, evaluated.

No API server runs here: the policy of the build (its matchConstraints, its matchConditions and
each validation) is evaluated as the API server would (cel-python, `tests.integration.manifests.
cel`) on requests made with the certs service account: an update of the webhook's own
MutatingWebhookConfiguration that changes the caBundle alone (what `certs.plan.with_ca_bundle`
writes) is allowed; one that changes any other field of an entry, the entries themselves, or the
labels, annotations, owners or finalizers is denied, and so are a delete, a create and any write
to another webhook configuration. The same requests from another identity (cert-manager's
cainjector, an admin) are not the policy's. Every field of the MutatingWebhook schema is compared.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path

import kubernetes_validate
import pytest

from certs.plan import with_ca_bundle
from tests.integration.manifests.cel import holds, unguarded, variables
from tests.integration.manifests.conftest import KUBERNETES_VERSIONS, Obj

GROUP = "admissionregistration.k8s.io"
MUTATING = (GROUP, "v1", "mutatingwebhookconfigurations")
VALIDATING = (GROUP, "v1", "validatingwebhookconfigurations")
CAINJECTOR = "system:serviceaccount:cert-manager:cert-manager-cainjector"
ADMIN = "kubernetes-admin"
OLD_CA, NEW_CA = b"-----BEGIN CERTIFICATE-----\nold\n", b"-----BEGIN CERTIFICATE-----\nnew\n"
PRESENT = {
    "object",
    "object.metadata",
    "oldObject",
    "oldObject.metadata",
    "request",
    "request.operation",
    "request.name",
    "request.resource",
    "request.resource.resource",
    "request.userInfo",
    "request.userInfo.username",
}
"""Always there when the expressions read them (object and oldObject only on an UPDATE, which
every expression that reads them tests first)."""


def _policy(base: list[Obj]) -> Obj:
    (policy,) = [o for o in base if o["kind"] == "ValidatingAdmissionPolicy"]
    return policy


def _configuration(base: list[Obj]) -> Obj:
    """The build's MutatingWebhookConfiguration as stored once the bootstrap set a caBundle."""
    (config,) = [o for o in base if o["kind"] == "MutatingWebhookConfiguration"]
    stored = with_ca_bundle(copy.deepcopy(config), OLD_CA)
    assert stored is not None
    body = stored[0]
    body["metadata"].update(resourceVersion="41", generation=2, uid="a-uid")
    return body


def _certs_user(base: list[Obj]) -> str:
    """The username of the certs service account, from the build's binding of its RBAC."""
    (binding,) = [
        o
        for o in base
        if o["kind"] == "ClusterRoleBinding" and o["roleRef"]["name"].endswith("-certs")
    ]
    (subject,) = binding["subjects"]
    return f"system:serviceaccount:{subject['namespace']}:{subject['name']}"


def decide(
    policy: Obj,
    old: Obj | None,
    new: Obj | None,
    *,
    user: str,
    operation: str = "UPDATE",
    resource: tuple[str, str, str] = MUTATING,
) -> list[str] | None:
    """None when the policy does not apply to the request; else the messages of the validations
    it fails (an empty list: allowed). An evaluation error raises (it would deny)."""
    spec = policy["spec"]
    rules = spec["matchConstraints"]["resourceRules"]
    if not any(
        resource[0] in r["apiGroups"]
        and resource[2] in r["resources"]
        and operation in r["operations"]
        for r in rules
    ):
        return None
    name = str(((new or old) or {}).get("metadata", {}).get("name", ""))
    bound = variables(new, old, operation=operation, username=user, name=name, resource=resource)
    if not all(holds(c["expression"], bound) for c in spec.get("matchConditions", [])):
        return None
    return [v["message"] for v in spec["validations"] if not holds(v["expression"], bound)]


def _changed(base: list[Obj], change: Callable[[Obj], None]) -> tuple[Obj, Obj]:
    old = _configuration(base)
    new = copy.deepcopy(old)
    change(new)
    new["metadata"]["resourceVersion"] = "42"  # what the API server changes on any write
    new["metadata"]["generation"] = 3
    return old, new


def _ca(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _hook(obj: Obj, index: int = 0) -> Obj:
    entry: Obj = obj["webhooks"][index]
    return entry


def _set_first_bundle(obj: Obj) -> None:
    _hook(obj)["clientConfig"]["caBundle"] = _ca(NEW_CA)


ALLOWED: dict[str, Callable[[Obj], None]] = {
    "every-bundle": lambda o: [
        h["clientConfig"].update(caBundle=_ca(NEW_CA + OLD_CA)) for h in o["webhooks"]
    ],
    "one-bundle": _set_first_bundle,
    "server-side-fields": lambda o: o["metadata"].update(managedFields=[{"manager": "vsi-certs"}]),
}
DENIED: dict[str, Callable[[Obj], None]] = {
    "rules": lambda o: _hook(o)["rules"][0]["operations"].append("UPDATE"),
    "namespace-selector": lambda o: _hook(o)["namespaceSelector"].pop("matchExpressions"),
    "object-selector": lambda o: _hook(o).pop("objectSelector"),
    "match-conditions": lambda o: _hook(o)["matchConditions"].pop(),
    "no-match-conditions": lambda o: _hook(o).pop("matchConditions"),
    "match-policy": lambda o: _hook(o).update(matchPolicy="Exact"),
    "service-name": lambda o: _hook(o)["clientConfig"]["service"].update(name="elsewhere"),
    "service-namespace": lambda o: _hook(o)["clientConfig"]["service"].update(namespace="x"),
    "service-path": lambda o: _hook(o)["clientConfig"]["service"].update(path="/steal"),
    "service-port": lambda o: _hook(o)["clientConfig"]["service"].update(port=8443),
    "url": lambda o: _hook(o)["clientConfig"].update(url="https://attacker.example/mutate"),
    "service-for-url": lambda o: _hook(o)["clientConfig"].update(
        service=None, url="https://attacker.example/mutate"
    ),
    "failure-policy": lambda o: _hook(o).update(failurePolicy="Ignore"),
    "side-effects": lambda o: _hook(o).update(sideEffects="NoneOnDryRun"),
    "timeout": lambda o: _hook(o).update(timeoutSeconds=30),
    "reinvocation": lambda o: _hook(o).update(reinvocationPolicy="Never"),
    "review-versions": lambda o: _hook(o).update(admissionReviewVersions=["v1", "v1beta1"]),
    "entry-added": lambda o: o["webhooks"].append({**copy.deepcopy(_hook(o)), "name": "x.io"}),
    "entry-removed": lambda o: o["webhooks"].pop(),
    "entries-reordered": lambda o: o["webhooks"].reverse(),
    "entry-renamed": lambda o: _hook(o).update(name="renamed.vault-storage-injector.io"),
    "label": lambda o: o["metadata"]["labels"].update({"app.kubernetes.io/name": "x"}),
    "annotation": lambda o: (
        o["metadata"]
        .setdefault("annotations", {})
        .update({"cert-manager.io/inject-ca-from": "attacker/certificate"})
    ),
    "owner": lambda o: o["metadata"].update(
        ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "gone", "uid": "u"}]
    ),
    "finalizer": lambda o: o["metadata"].update(finalizers=["example.com/hold"]),
}


def _clean(obj: Obj) -> Obj:
    """Fields a change set to None removed (a ``service`` swapped for a ``url``)."""
    for hook in obj.get("webhooks", []):
        config = hook["clientConfig"]
        for key in [k for k, v in config.items() if v is None]:
            del config[key]
    return obj


def test_every_expression_reads_only_fields_that_are_there_or_tested(base: list[Obj]) -> None:
    spec = _policy(base)["spec"]
    for item in spec["matchConditions"] + spec["validations"]:
        assert unguarded(item["expression"], PRESENT) == [], item["expression"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_field_of_a_webhook_entry_is_compared_but_the_ca_bundle(
    base: list[Obj], version: str
) -> None:
    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    folder = schemas / f"v{version}-local"

    def properties(name: str) -> set[str]:
        return set(
            json.loads((folder / f"{name}-admissionregistration-v1.json").read_text())["properties"]
        )

    text = " ".join(v["expression"] for v in _policy(base)["spec"]["validations"])
    compared = {f for f in properties("mutatingwebhook") if f"w.{f} " in text or f"w.{f})" in text}
    # name pairs the entries (and their names are compared as a list), clientConfig field by field
    assert properties("mutatingwebhook") - compared == {"clientConfig"}
    client = {f for f in properties("webhookclientconfig") if f"w.clientConfig.{f}" in text}
    assert properties("webhookclientconfig") - client == {"caBundle"}


def test_the_policy_names_the_builds_service_account_and_configuration(
    base: list[Obj],
) -> None:
    spec = _policy(base)["spec"]
    (condition,) = spec["matchConditions"]
    assert f"'{_certs_user(base)}'" in condition["expression"]
    name = _configuration(base)["metadata"]["name"]
    assert f"request.name == '{name}'" in spec["validations"][0]["expression"]
    (binding,) = [o for o in base if o["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert binding["spec"] == {
        "policyName": _policy(base)["metadata"]["name"],
        "validationActions": ["Deny"],
    }
    assert spec["failurePolicy"] == "Fail"


def test_the_bootstraps_own_update_is_allowed(base: list[Obj]) -> None:
    old = _configuration(base)
    written = with_ca_bundle(old, NEW_CA + OLD_CA)  # what vsi-certs sends on a CA rotation
    assert written is not None
    assert decide(_policy(base), old, written[0], user=_certs_user(base)) == []


@pytest.mark.parametrize("change", ALLOWED)
def test_a_caBundle_change_is_allowed(base: list[Obj], change: str) -> None:
    old, new = _changed(base, ALLOWED[change])
    assert decide(_policy(base), old, new, user=_certs_user(base)) == []


@pytest.mark.parametrize("change", DENIED)
def test_any_other_change_is_denied_and_says_what(base: list[Obj], change: str) -> None:
    old, new = _changed(base, DENIED[change])
    _clean(new)
    _set_first_bundle(new)  # a caBundle change alongside does not make it allowed
    messages = decide(_policy(base), old, new, user=_certs_user(base))
    assert messages, change
    assert all(m.startswith("the certificate bootstrap may ") for m in messages)


@pytest.mark.parametrize("change", DENIED)
@pytest.mark.parametrize("user", [CAINJECTOR, ADMIN])
def test_other_identities_are_not_the_policys(base: list[Obj], change: str, user: str) -> None:
    old, new = _changed(base, DENIED[change])
    assert decide(_policy(base), old, _clean(new), user=user) is None


def test_a_delete_a_create_and_another_configuration_are_denied(base: list[Obj]) -> None:
    policy, user, ours = _policy(base), _certs_user(base), _configuration(base)
    only = "the certificate bootstrap may only update the caBundle of MutatingWebhookConfiguration"
    assert decide(policy, ours, None, user=user, operation="DELETE") == [
        f"{only} {ours['metadata']['name']}"
    ]
    assert decide(policy, None, ours, user=user, operation="CREATE")
    other = copy.deepcopy(ours)
    other["metadata"]["name"] = "someone-elses-webhook"
    changed = copy.deepcopy(other)
    _set_first_bundle(changed)
    assert decide(policy, other, changed, user=user)
    validating = {**copy.deepcopy(changed), "kind": "ValidatingWebhookConfiguration"}
    assert decide(policy, other, validating, user=user, resource=VALIDATING)
    assert decide(policy, other, validating, user=CAINJECTOR, resource=VALIDATING) is None

"""The admission policy tests of the kustomize manifests, run on the chart's output.

The same test functions as tests/integration/manifests/test_admission_policy.py (the certs service
account may change the caBundle of the release's webhook configuration and nothing else), with
`base` here the chart rendered with its defaults, and once more under another release name and
namespace, where the policy must name that release's account and configuration.
"""

from __future__ import annotations

import pytest

from tests.integration.charts.conftest import find, render
from tests.integration.manifests.conftest import Obj
from tests.integration.manifests.test_admission_policy import (
    test_a_caBundle_change_is_allowed,
    test_a_delete_a_create_and_another_configuration_are_denied,
    test_any_other_change_is_denied_and_says_what,
    test_every_expression_reads_only_fields_that_are_there_or_tested,
    test_every_field_of_a_webhook_entry_is_compared_but_the_ca_bundle,
    test_other_identities_are_not_the_policys,
    test_the_bootstraps_own_update_is_allowed,
    test_the_policy_names_the_builds_service_account_and_configuration,
)

__all__ = [
    "test_a_caBundle_change_is_allowed",
    "test_a_delete_a_create_and_another_configuration_are_denied",
    "test_any_other_change_is_denied_and_says_what",
    "test_every_expression_reads_only_fields_that_are_there_or_tested",
    "test_every_field_of_a_webhook_entry_is_compared_but_the_ca_bundle",
    "test_other_identities_are_not_the_policys",
    "test_the_bootstraps_own_update_is_allowed",
    "test_the_policy_names_the_builds_service_account_and_configuration",
]


@pytest.fixture(
    scope="module",
    params=[("vault-storage-injector", "vault-storage-injector"), ("vsi", "storage-system")],
    ids=["base-names", "another-release"],
)
def base(request: pytest.FixtureRequest) -> list[Obj]:
    """The chart's objects, standing in for the kustomize base in the imported tests."""
    release, namespace = request.param
    return render(release=release, namespace=namespace)


def test_every_admission_policy_test_of_the_manifests_runs_here() -> None:
    from tests.integration.manifests import test_admission_policy as manifests

    assert sorted(n for n in vars(manifests) if n.startswith("test_")) == sorted(__all__)


def test_with_cert_manager_there_is_no_policy() -> None:
    objects = render({"certManager": {"enabled": True}})
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    find(objects, "MutatingWebhookConfiguration")

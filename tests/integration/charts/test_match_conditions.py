"""The CEL matchConditions tests of the kustomize manifests, run on the chart's output.

The same test functions as tests/integration/manifests/test_match_conditions.py (nothing the
mutator changes is left out, no DaemonSet or pod that is not storage reaches an entry, every
field read is there or tested; Rook's KMS-mode pods reach only the entry that ignores an outage),
with `base` here the chart rendered with its defaults, and once more in another namespace.
"""

from __future__ import annotations

import pytest

from tests.integration.charts.conftest import render
from tests.integration.manifests.conftest import Obj
from tests.integration.manifests.test_match_conditions import (
    test_an_update_is_judged_on_the_new_object,
    test_candidate_pods_reach_the_webhook,
    test_cel_python_answers_false_where_kubernetes_errs_so_the_lint_above_is_needed,
    test_daemonsets_that_are_no_storage_never_reach_the_webhook,
    test_every_expression_reads_only_fields_that_are_there_or_tested,
    test_every_review_the_mutator_changes_passes_the_match_conditions,
    test_no_entry_is_called_on_delete_or_connect,
    test_only_rooks_kms_pods_use_the_entry_that_ignores_an_outage,
    test_pods_no_profile_can_match_never_reach_the_webhook,
    test_portworx_daemonsets_reach_the_webhook_on_create_and_update,
    test_the_conditions_never_leave_out_an_object_the_mutator_changes,
    test_the_golden_cases_cover_every_entry,
    test_the_reference_folders_portworx_objects_reach_the_webhook,
    test_what_the_mutator_made_of_a_golden_case_reaches_the_same_entry,
)

__all__ = [
    "test_an_update_is_judged_on_the_new_object",
    "test_candidate_pods_reach_the_webhook",
    "test_cel_python_answers_false_where_kubernetes_errs_so_the_lint_above_is_needed",
    "test_daemonsets_that_are_no_storage_never_reach_the_webhook",
    "test_every_expression_reads_only_fields_that_are_there_or_tested",
    "test_every_review_the_mutator_changes_passes_the_match_conditions",
    "test_no_entry_is_called_on_delete_or_connect",
    "test_only_rooks_kms_pods_use_the_entry_that_ignores_an_outage",
    "test_pods_no_profile_can_match_never_reach_the_webhook",
    "test_portworx_daemonsets_reach_the_webhook_on_create_and_update",
    "test_the_conditions_never_leave_out_an_object_the_mutator_changes",
    "test_the_golden_cases_cover_every_entry",
    "test_the_reference_folders_portworx_objects_reach_the_webhook",
    "test_what_the_mutator_made_of_a_golden_case_reaches_the_same_entry",
]


@pytest.fixture(scope="module", params=["vault-storage-injector", "storage-system"])
def base(request: pytest.FixtureRequest) -> list[Obj]:
    """The chart's objects, standing in for the kustomize base in the imported tests."""
    return render(namespace=request.param)


def test_every_match_conditions_test_of_the_manifests_runs_here() -> None:
    from tests.integration.manifests import test_match_conditions as manifests

    assert sorted(n for n in vars(manifests) if n.startswith("test_")) == sorted(__all__)

"""The CEL matchConditions tests of the kustomize manifests, run on the chart's output.

The same test functions as tests/integration/manifests/test_match_conditions.py (every golden
review the mutator changes reaches exactly one entry; pods no profile can match reach none; Rook's
KMS-mode pods reach only the entry that ignores an outage), with `base` here the chart rendered
with its defaults, and once more in another namespace.
"""

from __future__ import annotations

import pytest

from tests.integration.charts.conftest import render
from tests.integration.manifests.conftest import Obj
from tests.integration.manifests.test_match_conditions import (
    test_candidate_pods_reach_the_webhook,
    test_every_review_the_mutator_changes_passes_the_match_conditions,
    test_only_rooks_kms_pods_use_the_entry_that_ignores_an_outage,
    test_pods_no_profile_can_match_never_reach_the_webhook,
    test_the_golden_cases_cover_every_entry,
)

__all__ = [
    "test_candidate_pods_reach_the_webhook",
    "test_every_review_the_mutator_changes_passes_the_match_conditions",
    "test_only_rooks_kms_pods_use_the_entry_that_ignores_an_outage",
    "test_pods_no_profile_can_match_never_reach_the_webhook",
    "test_the_golden_cases_cover_every_entry",
]


@pytest.fixture(scope="module", params=["vault-storage-injector", "storage-system"])
def base(request: pytest.FixtureRequest) -> list[Obj]:
    """The chart's objects, standing in for the kustomize base in the imported tests."""
    return render(namespace=request.param)


def test_every_match_conditions_test_of_the_manifests_runs_here() -> None:
    from tests.integration.manifests import test_match_conditions as manifests

    assert sorted(n for n in vars(manifests) if n.startswith("test_")) == sorted(__all__)

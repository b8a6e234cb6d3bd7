"""The doctor in pods-only mode, against the API double holding the healthy install.

The healthy install (conftest) runs in the default mode: its Portworx DaemonSet was mutated. The
tests switch the live MutatingWebhookConfiguration to pods-only as the component does (its two
workload entries deleted), and the doctor must tell the mode from it, judge the DaemonSet
through the pod its controller creates, name what the live DaemonSet still holds of the
webhook's settings (left from the default mode), stop naming it once the DaemonSet is git's
again, and check the Vault connection of its pods with ``--vault``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.integration.doctor.conftest import PX_NS, Install
from tests.unit.webhook.support import GOLDEN

WEBHOOK_CONFIG = "vault-storage-injector"
WORKLOAD_ENTRIES = (
    "daemonsets.vault-storage-injector.io",
    "storageclusters.vault-storage-injector.io",
)


def _pods_only(install: Install) -> None:
    def drop(config: dict[str, Any]) -> None:
        config["webhooks"] = [h for h in config["webhooks"] if h["name"] not in WORKLOAD_ENTRIES]

    install.edit("mutatingwebhookconfigurations", None, WEBHOOK_CONFIG, drop)


def _git_daemonset() -> dict[str, Any]:
    review = json.loads((GOLDEN / "portworx-daemonset" / "request.json").read_text())
    daemonset: dict[str, Any] = review["request"]["object"]
    daemonset["metadata"]["namespace"] = PX_NS
    daemonset["metadata"].pop("annotations", None)
    return daemonset


async def test_the_default_mode_is_named(healthy: Install) -> None:
    result = await healthy.doctor()
    assert result.status("webhook-mode") == "ok"
    assert result.detail("webhook-mode").startswith("workloads:")
    assert not [n for n in result.checks if n.startswith("leftovers:")]


async def test_pods_only_names_what_the_mutated_daemonset_still_holds(healthy: Install) -> None:
    _pods_only(healthy)

    result = await healthy.doctor()

    assert result.code == 0
    assert result.status("webhook-mode") == "ok"
    assert result.detail("webhook-mode").startswith("pods-only:")
    name = f"{PX_NS}/DaemonSet/portworx"
    assert result.status(f"object:{name}") == "ok"
    assert "from the DaemonSet itself" in result.detail(f"object:{name}")
    assert result.status(f"leftovers:{name}") == "warn"
    detail = result.detail(f"leftovers:{name}")
    assert "env VAULT_ADDR, VAULT_TOKEN" in detail
    assert "volume vsi-vault-tls" in detail
    assert "vault-storage-injector.io/status: injected" in detail
    assert "kubectl replace -f" in result.fix(f"leftovers:{name}")


async def test_pods_only_with_gits_daemonset_wires_its_pods_at_creation(healthy: Install) -> None:
    _pods_only(healthy)
    healthy.api.apply(_git_daemonset())

    result = await healthy.doctor("--vault")

    name = f"{PX_NS}/DaemonSet/portworx"
    assert result.status(f"object:{name}") == "ok"
    assert "each pod it creates gets profile portworx at creation" in result.detail(
        f"object:{name}"
    )
    assert f"leftovers:{name}" not in result.checks
    assert result.warning() == []
    # Its pods' Vault connection, checked as the default mode checks the DaemonSet's.
    assert result.status(f"vault:{PX_NS}/daemonset/portworx/auth") == "ok"
    assert result.status(f"secrets:{PX_NS}/portworx") == "ok"


async def test_an_opt_out_on_the_daemonset_alone_is_named(healthy: Install) -> None:
    _pods_only(healthy)
    daemonset = _git_daemonset()
    daemonset["metadata"]["annotations"] = {"vault-storage-injector.io/inject": "false"}
    healthy.api.apply(daemonset)

    result = await healthy.doctor()

    check = f"object:{PX_NS}/DaemonSet/portworx"
    assert result.status(check) == "warn"
    assert "does not reach its pods" in result.detail(check)
    assert result.fix(check) == "move it to spec.template.metadata.annotations"


async def test_one_workload_entry_left_is_a_warning(healthy: Install) -> None:
    def drop_one(config: dict[str, Any]) -> None:
        config["webhooks"] = [h for h in config["webhooks"] if h["name"] != WORKLOAD_ENTRIES[1]]

    healthy.edit("mutatingwebhookconfigurations", None, WEBHOOK_CONFIG, drop_one)

    result = await healthy.doctor()

    assert result.status("webhook-mode") == "warn"
    assert result.detail("webhook-mode").startswith("partial: only DaemonSets")

"""Why an object is left unchanged: one code per reason, the same in the preview, log and metrics.

The preview runs the installed ``vsi-webhook mutate`` as a user does; the server is the real
aiohttp app with the real mutator and the built-in profiles.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.webhook.conftest import StartServer
from tests.integration.webhook.helpers import admission_review, pod
from webhook.core import constants as c
from webhook.core.config import load_config
from webhook.core.mutation import build_mutator
from webhook.server.configreload import LoadedConfig

WEBHOOK = str(Path(sys.executable).parent / "vsi-webhook")
PVC = {"name": "data", "persistentVolumeClaim": {"claimName": "data-0"}}


def _mutate(tmp_path: Path, *objects: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    return subprocess.run(
        [WEBHOOK, "mutate", "-f", str(path), "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _pod(name: str, inject: str | None, volumes: list[dict[str, Any]]) -> dict[str, Any]:
    obj = pod(name=name, namespace="apps")
    if inject is not None:
        obj["metadata"]["annotations"] = {c.ANNOTATION_INJECT: inject}
    obj["spec"]["volumes"] = volumes
    return obj


def _workload(kind: str) -> dict[str, Any]:
    template = {
        "metadata": {"labels": {"app": "db"}, "annotations": {c.ANNOTATION_INJECT: "true"}},
        "spec": {
            "containers": [
                {
                    "name": "db",
                    "image": "postgres:16",
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [PVC],
            "securityContext": {"runAsUser": 999, "fsGroup": 999},
        },
    }
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": "db"}}, "template": template}
    api = "apps/v1"
    if kind == "Job":
        spec, api = {"template": template}, "batch/v1"
    if kind == "CronJob":
        spec = {"schedule": "@daily", "jobTemplate": {"spec": {"template": template}}}
        api = "batch/v1"
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": "db", "namespace": "apps"},
        "spec": spec,
    }


def test_yes_no_pvc_and_widget_each_say_their_own_reason_and_fix(tmp_path: Path) -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}

    done = _mutate(tmp_path, _pod("yes", "yes", [PVC]), _pod("bare", "true", []), widget)

    unchanged = [line for line in done.stderr.splitlines() if ": unchanged (" in line]
    assert done.returncode == 0
    assert unchanged == [
        "vsi-webhook: Pod/yes: unchanged (annotation-value); fix: set "
        'vault-storage-injector.io/inject to "true" (opt in) or "false" (opt out)',
        "vsi-webhook: Pod/bare: unchanged (no-pvc-volumes); fix: add a persistentVolumeClaim "
        "volume: volume-keys gives one key per PVC",
        "vsi-webhook: Widget/w: unchanged (kind-not-handled)",
    ]


@pytest.mark.parametrize(
    "kind", ["Deployment", "StatefulSet", "ReplicaSet", "Job", "CronJob", "DaemonSet"]
)
def test_a_workload_is_previewed_as_the_pods_its_controller_creates(
    tmp_path: Path, kind: str
) -> None:
    done = _mutate(tmp_path, _workload(kind))

    assert done.returncode == 0, done.stderr
    assert (
        f"vsi-webhook: {kind}/db: the cluster mutates the Pods, not the {kind}; previewing its "
        "pod template as its Pods will be mutated"
    ) in done.stderr
    preview = yaml.safe_load(done.stdout)
    assert preview["kind"] == "Pod"
    assert preview["metadata"]["annotations"][c.ANNOTATION_STATUS] == c.STATUS_INJECTED
    assert any(i["name"] == "vsi-injector" for i in preview["spec"]["initContainers"])
    assert "unchanged" not in done.stderr


async def test_the_server_logs_and_counts_the_same_reason_codes(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    mutator = build_mutator(load_config(None))
    server = await start_server(mutator_source=lambda _: LoadedConfig(mutator=mutator))
    cases = {
        "yes": (_pod("yes", "yes", [PVC]), c.SKIP_ANNOTATION_VALUE),
        "bare": (_pod("bare", "true", []), c.SKIP_NO_PVC_VOLUMES),
    }
    with caplog.at_level(logging.INFO, logger="webhook"):
        for name, (obj, _) in cases.items():
            obj["metadata"]["namespace"] = "team-a"
            await server.client.review(admission_review(obj, name=name))
    logged = {
        r.vsi_fields["name"]: r.vsi_fields["reason"]  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "review"
    }
    _, metrics = await server.client.get("/metrics")

    for name, (_, reason) in cases.items():
        assert logged[name] == reason
        assert f'outcome="skipped",reason="{reason}"}} 1.0' in metrics

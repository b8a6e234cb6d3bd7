"""The injected ``vsi-injector`` tells `kubectl describe pod` why it failed.

With ``terminationMessagePolicy: FallbackToLogsOnError`` the kubelet copies the tail of a failed
container's log (at most 80 lines or 2 KiB) into its termination message, so the injector's last
line, ``vsi-injector: failed: ...``, shows under "Last State" without ``kubectl logs``. Every
profile type that injects it (rook-osd, rook-kms in place of Rook's key fetch, volume-keys) builds
it with `webhook.core.builders.injector_container`; the golden cases pin it for each. Rook's own
containers that get Vault settings in KMS mode keep Rook's policy: they are Rook's.
"""

from __future__ import annotations

import json
from typing import Any

from tests.unit.webhook.support import GOLDEN
from webhook.core import constants as c

POLICY = "FallbackToLogsOnError"


def _injectors() -> dict[str, list[dict[str, Any]]]:
    """Case -> the vsi-injector containers of its expected object."""
    found: dict[str, list[dict[str, Any]]] = {}
    for case in sorted(GOLDEN.iterdir()):
        expected = case / "expected.json"
        if not expected.exists():
            continue
        obj = json.loads(expected.read_text())
        spec = obj.get("spec", {})
        spec = spec.get("template", {}).get("spec", spec)
        containers = [*spec.get("initContainers", []), *spec.get("containers", [])]
        mine = [k for k in containers if k.get("name") == c.INJECTOR_CONTAINER_NAME]
        if mine:
            found[case.name] = mine
    return found


def test_every_injected_injector_falls_back_to_its_log_on_error() -> None:
    injectors = _injectors()
    assert {"rook-kms-osd", "rook-osd-secret-seed", "volume-keys-pod"} <= set(injectors)
    for case, containers in injectors.items():
        for container in containers:
            assert container["terminationMessagePolicy"] == POLICY, case
            assert "terminationMessagePath" not in container, case  # the default path


def test_rooks_own_containers_keep_rooks_policy() -> None:
    """In KMS mode the webhook gives Rook's operator, prepare and rotation containers settings
    only; their termination message stays what Rook chose."""
    for case in ("rook-kms-operator", "rook-kms-prepare", "rook-kms-key-rotation"):
        request = json.loads((GOLDEN / case / "request.json").read_text())["request"]["object"]
        expected = json.loads((GOLDEN / case / "expected.json").read_text())
        before = {
            k["name"]: k.get("terminationMessagePolicy") for k in request["spec"]["containers"]
        }
        after = {
            k["name"]: k.get("terminationMessagePolicy") for k in expected["spec"]["containers"]
        }
        assert before == after, case

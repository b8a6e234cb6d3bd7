"""`vsi-webhook mutate`: the offline preview, run as a real subprocess (`python -m webhook`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml

from tests.unit.webhook.support import GOLDEN
from webhook.core import constants as c

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webhook", "mutate", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def _object(case: str) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads((GOLDEN / case / "request.json").read_text())["request"][
        "object"
    ]
    return obj


def _write_yaml(tmp_path: Path, *objs: dict[str, Any]) -> Path:
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(list(objs), sort_keys=False))
    return path


def test_json_output_is_the_mutated_object_same_as_the_server(tmp_path: Path) -> None:
    path = _write_yaml(tmp_path, _object("rook-osd-secret-seed"))
    proc = _run("-f", str(path), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(
        (GOLDEN / "rook-osd-secret-seed" / "expected.json").read_text()
    )


def test_json_output_is_an_array_when_the_file_holds_several_objects(tmp_path: Path) -> None:
    path = _write_yaml(tmp_path, _object("portworx-daemonset"), _object("volume-keys-pod"))
    proc = _run("-f", str(path), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [o["kind"] for o in out] == ["DaemonSet", "Pod"]
    assert all(o["metadata"]["annotations"][c.ANNOTATION_STATUS] == "injected" for o in out)


def test_yaml_from_stdin_is_the_default_output() -> None:
    proc = _run("-f", "-", stdin=yaml.safe_dump(_object("volume-keys-pod")))
    assert proc.returncode == 0, proc.stderr
    out = yaml.safe_load(proc.stdout)
    assert out["spec"]["initContainers"][0]["name"] == c.INJECTOR_CONTAINER_NAME


def test_patch_output_applies_to_the_input_and_gives_the_golden_object(tmp_path: Path) -> None:
    obj = _object("portworx-daemonset")
    proc = _run("-f", str(_write_yaml(tmp_path, obj)), "-o", "patch")
    assert proc.returncode == 0, proc.stderr
    mutated = jsonpatch.apply_patch(obj, json.loads(proc.stdout))
    assert mutated == json.loads((GOLDEN / "portworx-daemonset" / "expected.json").read_text())


def test_diff_output_shows_added_lines(tmp_path: Path) -> None:
    proc = _run("-f", str(_write_yaml(tmp_path, _object("storagecluster"))), "-o", "diff")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(
        "--- a/StorageCluster/px-cluster-5f3b0d1e\n+++ b/StorageCluster/px-cluster-5f3b0d1e\n"
    )
    assert "+  secretsProvider: vault\n" in proc.stdout


def test_an_admission_review_file_is_accepted_as_input() -> None:
    proc = _run("-f", str(GOLDEN / "volume-keys-pod" / "request.json"), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(
        (GOLDEN / "volume-keys-pod" / "expected.json").read_text()
    )


def test_skips_and_warnings_go_to_stderr_and_exit_zero(tmp_path: Path) -> None:
    obj = _object("portworx-secret-type-conflict")
    proc = _run("-f", str(_write_yaml(tmp_path, obj)), "-o", "json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == obj
    assert "warning: DaemonSet/portworx: container portworx sets -secret_type k8s" in proc.stderr
    assert "DaemonSet/portworx: unchanged (conflict)" in proc.stderr


def test_config_file_is_used(tmp_path: Path) -> None:
    config = tmp_path / "profiles.yaml"
    config.write_text("injector: {image: registry.local/vsi:9.9.9}\n")
    proc = _run(
        "-f",
        str(_write_yaml(tmp_path, _object("volume-keys-pod"))),
        "--config",
        str(config),
        "-o",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        json.loads(proc.stdout)["spec"]["initContainers"][0]["image"] == "registry.local/vsi:9.9.9"
    )


def _assert_usage_error(proc: subprocess.CompletedProcess[str], message: str) -> None:
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("vsi-webhook: error: ")
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_invalid_yaml_exits_2_naming_the_document(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kind: Pod\napiVersion: v1\n---\nkind: [unclosed\n")
    _assert_usage_error(_run("-f", str(path)), "bad.yaml: document 2: invalid YAML")


def test_object_without_kind_exits_2() -> None:
    _assert_usage_error(
        _run("-f", "-", stdin="apiVersion: v1\nmetadata: {name: x}\n"),
        "<stdin>: document 1: object has no kind",
    )


def test_invalid_config_exits_2_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "profiles.yaml"
    config.write_text("profiles: [{name: a, type: ceph, connection: {secret: s}}]\n")
    proc = _run(
        "-f", "-", "--config", str(config), stdin=yaml.safe_dump(_object("volume-keys-pod"))
    )
    _assert_usage_error(proc, "profiles.yaml: profiles[0].type: expected one of")


def test_missing_file_and_namespace_mismatch_exit_2(tmp_path: Path) -> None:
    _assert_usage_error(_run("-f", str(tmp_path / "none.yaml")), "none.yaml: cannot read")
    path = _write_yaml(tmp_path, _object("volume-keys-pod"))
    _assert_usage_error(
        _run("-f", str(path), "-n", "other"), "namespace 'databases' does not match -n 'other'"
    )


def test_bad_output_format_is_a_usage_error() -> None:
    proc = _run("-f", "-", "-o", "xml", stdin="")
    assert proc.returncode == 2
    assert "invalid choice: 'xml'" in proc.stderr


# --- a cluster snapshot: the preview sees what the server's caches would -------------------------


def _enabled_cases_with_a_snapshot() -> list[str]:
    out = []
    for case in sorted(p for p in GOLDEN.iterdir() if (p / "cluster.json").exists()):
        review = json.loads((case / "request.json").read_text())
        namespace = review["request"]["namespace"]
        labels = json.loads((case / "cluster.json").read_text())["namespaces"].get(namespace, {})
        if labels.get(c.LABEL_ENABLED) == "true":
            out.append(case.name)
    return out


@pytest.mark.parametrize("case", _enabled_cases_with_a_snapshot())
def test_with_the_golden_snapshot_the_preview_gives_the_servers_object_and_warnings(
    case: str,
) -> None:
    folder = GOLDEN / case
    args = ["-f", str(folder / "request.json"), "--cluster", str(folder / "cluster.json")]
    if (folder / "config.yaml").exists():
        args += ["--config", str(folder / "config.yaml")]
    proc = _run(*args, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads((folder / "expected.json").read_text())
    warnings_file = folder / "warnings.json"
    expected = json.loads(warnings_file.read_text()) if warnings_file.exists() else []
    printed = [
        line for line in proc.stderr.splitlines() if line.startswith("vsi-webhook: warning:")
    ]
    assert len(printed) == len(expected), proc.stderr
    for line, warning in zip(printed, expected, strict=True):
        assert line.endswith(f": {warning}"), (line, warning)


def test_a_snapshot_of_kubernetes_objects_is_read_for_key_names_only(tmp_path: Path) -> None:
    config = tmp_path / "profiles.yaml"
    config.write_text(
        "profiles: [{name: px, type: portworx, connection: "
        "{secret: px-vault, secretNamespace: kube-system, tlsSecret: tls}}]\n"
    )
    snapshot = tmp_path / "snapshot.yaml"
    snapshot.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}},
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": "px-vault", "namespace": "kube-system"},
                        "data": {"VAULT_ADDR": "aHR0cHM6Ly92", "VAULT_TOKEN": "c2VjcmV0LXRva2Vu"},
                    },
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": "tls", "namespace": "kube-system"},
                        "stringData": {"ca.crt": "PEM", "tls.crt": "PEM", "tls.key": "KEY"},
                    },
                ],
            }
        )
    )
    proc = _run(
        "-f",
        str(_write_yaml(tmp_path, _object("portworx-daemonset"))),
        "--config",
        str(config),
        "--cluster",
        str(snapshot),
        "-o",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    px = json.loads(proc.stdout)["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in px["env"]}
    assert env["VAULT_CLIENT_KEY"] == f"{c.TLS_MOUNT_PATH}/tls.key"  # the snapshot's pair is used
    assert "warning" not in proc.stderr
    assert "c2VjcmV0LXRva2Vu" not in proc.stdout + proc.stderr


def test_without_a_snapshot_the_preview_uses_the_profile_declaration(tmp_path: Path) -> None:
    config = tmp_path / "profiles.yaml"
    config.write_text(
        "profiles: [{name: px, type: portworx, connection: {secret: px-vault, tlsSecret: tls}}]\n"
    )
    obj = _object("portworx-daemonset")
    proc = _run("-f", str(_write_yaml(tmp_path, obj)), "--config", str(config), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    px = json.loads(proc.stdout)["spec"]["template"]["spec"]["containers"][0]
    tls_env = {e["name"] for e in px["env"] if e.get("value", "").startswith(c.TLS_MOUNT_PATH)}
    assert tls_env == {"VAULT_CACERT"}


def test_a_bad_snapshot_exits_2_naming_the_document(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.yaml"
    snapshot.write_text("secrets: {no-slash: [a]}\n")
    proc = _run(
        "-f", "-", "--cluster", str(snapshot), stdin=yaml.safe_dump(_object("volume-keys-pod"))
    )
    _assert_usage_error(proc, "--cluster")
    assert "document 1: secrets: expected 'namespace/name'" in proc.stderr

"""`make demo` plays the whole story to the end and leaves no process behind, also on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DEADLINE = 120.0


def _pod(path: Path) -> object:
    """A pod fixture without its comments (the header differs between the two copies)."""
    return yaml.safe_load(path.read_text())


def test_the_demos_kms_osd_pod_is_the_golden_fixture_built_from_rooks_template() -> None:
    demo = _pod(ROOT / "demo" / "objects" / "rook-kms-osd-pod.yaml")
    assert demo == _pod(ROOT / "tests" / "golden" / "rook-kms-osd" / "pod.yaml")


def _descendants(pid: int) -> set[int]:
    """Every live process whose parent chain leads to ``pid`` (read from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces; the fields after its closing parenthesis do not.
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def _wait_gone(pids: set[int]) -> set[int]:
    end = time.monotonic() + 15
    while time.monotonic() < end:
        left = {pid for pid in pids if _alive(pid)}
        if not left:
            return left
        time.sleep(0.05)
    return {pid for pid in pids if _alive(pid)}


def test_demo_runs_to_the_end_and_shows_stable_keys_and_the_luks_guard() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "DaemonSet portworx: allowed=True" in out
    assert "+        - -secret_type" in out
    assert "+  - name: vsi-injector" in out
    assert "set1-data-0-8n462 migrated (KV v2)" in out
    assert "set1-data-0-8n462 read (KV v2)" in out
    assert out.count("same key both runs: yes") == 1
    assert out.count("same keys both runs: yes") == 1
    # rook-kms next to rook-osd: Rook's own key fetch replaced, checked against the LUKS header.
    kms = out.split("3c. ", 1)[1].split("== 4. ", 1)[0]
    assert "-  - name: encryption-kms-get-kek" in kms
    assert "+  - name: vsi-injector" in kms
    assert "+      value: /set1-data-1-7rxkq" in kms  # VSI_VERIFY_LUKS on the data PVC
    assert "stored key: exit 0, luks_key written: True" in out
    assert "missing key: exit 1, luks_key written: False" in out
    assert "run 3 with --verify-luks: exit 0, key file written: True" in out
    assert "run 4 with --verify-luks: exit 1, key file written: False" in out
    assert "does not unlock" in out
    # It ends with the preflight: what a run would do, nothing created, a wrong CA named.
    check = out.split("== 6. Preflight", 1)[1]
    assert "a run would create one" in check
    assert ", 0 fail" in check
    assert "exit 0: a run with these settings would succeed" in check
    assert "logs-postgres-0 still has no key in Vault: the check created nothing" in check
    assert "trusting the webhook's CA instead of Vault's: exit 1" in check
    assert "fix: set VAULT_CACERT (or VAULT_CAPATH) to the CA that issued it" in check


def test_demo_ends_with_a_summary_and_next_steps_in_few_lines() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert out.count("\n") < 360  # it told its story in ~720 lines before
    summary = out[out.index("== Summary") : out.index("== Next steps")]
    assert "DaemonSet kube-system/portworx: 3 patch operations" in summary
    assert "Pod rook-ceph/rook-ceph-osd-0" in summary
    assert "LUKS guard: refused the hand-replaced key of databases/data-postgres-0" in summary
    steps = out[out.index("== Next steps") :]
    for step in ("docs/install.md", "make helm", "vsi-webhook doctor"):
        assert step in steps
    assert "Portworx reads px-vault itself, from PX_SECRETS_NAMESPACE (default portworx)" in out


def test_ctrl_c_stops_every_process_the_demo_started() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-u", "-m", "demo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    seen: list[str] = []
    try:
        end = time.monotonic() + DEADLINE
        for line in demo.stdout:
            seen.append(line)
            if "ready on https://" in line or time.monotonic() > end:
                break
        assert any("ready on https://" in line for line in seen), "".join(seen)
        children = _descendants(demo.pid)
        assert len(children) >= 2, f"expected OpenBao and the webhook, found {children}"
        os.kill(demo.pid, signal.SIGINT)
        rest, _ = demo.communicate(timeout=30)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 130, "".join(seen) + rest
    assert "interrupted, cleaning up" in rest
    assert _wait_gone(children) == set()


@pytest.mark.parametrize("signum", [signal.SIGTERM])
def test_sigterm_also_cleans_up(signum: int) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-u", "-m", "demo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    try:
        for line in demo.stdout:
            if "listening on http://" in line:
                break
        children = _descendants(demo.pid)
        assert children, "OpenBao should be running"
        os.kill(demo.pid, signum)
        demo.communicate(timeout=30)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 130
    assert _wait_gone(children) == set()

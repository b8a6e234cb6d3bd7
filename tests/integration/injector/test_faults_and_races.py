"""Faults (stopped, sealed, 403), racing injector processes, secrets staying out of output."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import hvac
from hvac.exceptions import Forbidden, InvalidPath

from demo.openbao import OpenBao, bao_binary
from tests.integration.injector.conftest import (
    CREATE_ONLY_V1,
    read_field,
    run_injector,
    start_injector,
    token_with_policy,
    unique,
)

FAULT_DEADLINE = "3"
RACERS = 8


def _args(out_dir: Path, volume: str = "vol") -> tuple[str | Path, ...]:
    return (
        "--layout",
        "volume-keys",
        "--volume",
        volume,
        "--output-dir",
        out_dir,
        "--deadline",
        FAULT_DEADLINE,
    )


def test_stopped_vault_fails_at_the_deadline_with_no_key_file(
    openbao_factory: Callable[[], OpenBao], out_dir: Path
) -> None:
    server = openbao_factory()
    server.stop()

    result = run_injector(server.env(VSI_NAMESPACE="ns"), *_args(out_dir))

    assert result.code == 1
    assert "gave up at the 3s deadline" in result.stderr
    assert "unreachable" in result.stderr
    assert "Connection refused" in result.stderr
    assert list(out_dir.iterdir()) == []


def test_sealed_vault_fails_at_the_deadline_saying_it_is_sealed(
    openbao_factory: Callable[[], OpenBao], out_dir: Path
) -> None:
    server = openbao_factory()
    subprocess.run(
        [bao_binary(), "operator", "seal"], env=server.env(), check=True, capture_output=True
    )

    result = run_injector(server.env(VSI_NAMESPACE="ns"), *_args(out_dir))

    assert result.code == 1
    assert "sealed" in result.stderr
    assert "deadline" in result.stderr
    assert list(out_dir.iterdir()) == []


def _unseal_key(server: OpenBao) -> str:
    for line in server.log_path.read_text().splitlines():
        if line.startswith("Unseal Key: "):
            return line.removeprefix("Unseal Key: ").strip()
    raise AssertionError("the dev server printed no unseal key")


def test_a_vault_unsealed_before_the_deadline_is_retried_until_the_key_is_written(
    openbao_factory: Callable[[], OpenBao], out_dir: Path
) -> None:
    server = openbao_factory()
    bao = [bao_binary(), "operator"]
    subprocess.run([*bao, "seal"], env=server.env(), check=True, capture_output=True)
    args = ["--layout", "volume-keys", "--volume", "vol", "--output-dir", out_dir]
    injector = start_injector(server.env(VSI_NAMESPACE="ns"), *args, "--deadline", "60")
    try:
        assert injector.stderr is not None
        seen: list[str] = []
        for line in injector.stderr:
            seen.append(line)
            if "retrying until the deadline" in line:
                break
        assert any("sealed" in line for line in seen), "".join(seen)
        assert list(out_dir.iterdir()) == []
        subprocess.run(
            [*bao, "unseal", _unseal_key(server)], env=server.env(), check=True, capture_output=True
        )
        rest = injector.communicate(timeout=60)[1]
    finally:
        if injector.poll() is None:
            injector.kill()
            injector.wait()
    assert injector.returncode == 0, "".join(seen) + rest
    assert [p.name for p in out_dir.iterdir()] == ["vol"]
    stored = server.client().secrets.kv.v2.read_secret_version(
        path="vault-storage-injector/ns/vol", raise_on_deleted_version=True
    )
    assert base64.b64decode(stored["data"]["data"]["key"]) == (out_dir / "vol").read_bytes()


def test_forbidden_key_path_fails_without_retrying_and_leaves_no_file(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path
) -> None:
    token = token_with_policy(
        root_client, f'path "{kv2}/data/other/*" {{ capabilities = ["read"] }}'
    )
    (out_dir / "vol").write_bytes(b"stale key from an earlier run")

    result = run_injector(
        openbao.env(
            VAULT_TOKEN=token, VAULT_BACKEND_PATH=kv2, VAULT_BACKEND="kv-v2", VSI_NAMESPACE="ns"
        ),
        *_args(out_dir),
    )

    assert result.code == 1
    assert "403" in result.stderr
    assert "permission denied" in result.stderr
    assert "gave up" not in result.stderr
    assert list(out_dir.iterdir()) == []


def _start_racers(env: dict[str, str], base: Path, volume: str) -> list[tuple[Path, int, str]]:
    """Start RACERS injectors for ``volume`` at once; each one's directory, exit code, stderr."""
    dirs = []
    for i in range(RACERS):
        directory = base / f"racer-{i}"
        directory.mkdir()
        dirs.append(directory)
    processes = [
        start_injector(env, "--layout", "volume-keys", "--volume", volume, "--output-dir", d)
        for d in dirs
    ]
    finished = []
    for directory, process in zip(dirs, processes, strict=True):
        _, stderr = process.communicate(timeout=60)
        finished.append((directory, process.returncode, stderr))
    return finished


def _race(env: dict[str, str], base: Path, volume: str) -> list[bytes]:
    finished = _start_racers(env, base, volume)
    for _, code, stderr in finished:
        assert code == 0, stderr
    return [(d / volume).read_bytes() for d, _, _ in finished]


def test_racing_injectors_on_kv_v2_agree_on_one_key_and_one_version(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, tmp_path: Path
) -> None:
    volume = unique("race")

    keys = _race(openbao.env(VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns"), tmp_path, volume)

    assert len(set(keys)) == 1
    path = f"vault-storage-injector/ns/{volume}"
    meta = root_client.secrets.kv.v2.read_secret_metadata(path, mount_point=kv2)
    assert meta["data"]["current_version"] == 1
    assert base64.b64decode(read_field(root_client, kv2, 2, path, "key")) == keys[0]


def test_racing_injectors_on_kv_v1_with_the_create_only_policy_agree_on_one_key(
    openbao: OpenBao, root_client: hvac.Client, kv1: str, tmp_path: Path
) -> None:
    token = token_with_policy(root_client, CREATE_ONLY_V1.format(mount=kv1))
    volume = unique("race")

    keys = _race(
        openbao.env(VAULT_TOKEN=token, VAULT_BACKEND_PATH=kv1, VSI_NAMESPACE="ns"), tmp_path, volume
    )

    assert len(set(keys)) == 1
    stored = read_field(root_client, kv1, 1, f"vault-storage-injector/ns/{volume}", "key")
    assert base64.b64decode(stored) == keys[0]


KV1_OVERWRITE_POLICY = 'path "{mount}/*" {{ capabilities = ["create", "read", "update"] }}'


def test_racing_injectors_on_kv_v1_refuse_to_create_with_a_policy_that_may_update(
    openbao: OpenBao, root_client: hvac.Client, kv1: str, tmp_path: Path
) -> None:
    token = token_with_policy(root_client, KV1_OVERWRITE_POLICY.format(mount=kv1))
    volume = unique("race")
    path = f"vault-storage-injector/ns/{volume}"

    finished = _start_racers(
        openbao.env(VAULT_TOKEN=token, VAULT_BACKEND_PATH=kv1, VSI_NAMESPACE="ns"), tmp_path, volume
    )

    for directory, code, stderr in finished:
        assert code == 1, stderr
        assert f"refusing to create the key at {kv1}/{path} on KV v1" in stderr
        assert "the token has update there" in stderr
        assert "create-only policy" in stderr
        assert list(directory.iterdir()) == []
    try:
        root_client.secrets.kv.v1.read_secret(path, mount_point=kv1)
        stored = True
    except InvalidPath:
        stored = False
    assert not stored


def test_racing_injectors_on_kv_v1_may_create_with_an_update_policy_after_opting_in(
    openbao: OpenBao, root_client: hvac.Client, kv1: str, tmp_path: Path
) -> None:
    """The opt-in accepts the risk: racers may exit 0 holding a key Vault then replaced.

    Documented, not asserted (it depends on timing): only the refusal must be gone, and every
    racer must either succeed or fail closed on the read-back.
    """
    token = token_with_policy(root_client, KV1_OVERWRITE_POLICY.format(mount=kv1))
    volume = unique("race")
    env = openbao.env(
        VAULT_TOKEN=token,
        VAULT_BACKEND_PATH=kv1,
        VSI_NAMESPACE="ns",
        VSI_KV1_ALLOW_OVERWRITE_POLICY="true",
    )

    finished = _start_racers(env, tmp_path, volume)

    assert read_field(root_client, kv1, 1, f"vault-storage-injector/ns/{volume}", "key")
    for directory, code, stderr in finished:
        assert "refusing to create" not in stderr
        assert code == 0 or "changed right after it was written" in stderr, stderr
        assert (directory / volume).exists() == (code == 0)


def test_create_only_policy_makes_kv_v1_refuse_an_overwrite(
    openbao: OpenBao, root_client: hvac.Client, kv1: str
) -> None:
    limited = openbao.client(token=token_with_policy(root_client, CREATE_ONLY_V1.format(mount=kv1)))
    limited.secrets.kv.v1.create_or_update_secret("k", {"key": "first"}, mount_point=kv1)

    try:
        limited.secrets.kv.v1.create_or_update_secret("k", {"key": "second"}, mount_point=kv1)
        refused = False
    except Forbidden:
        refused = True

    assert refused
    assert read_field(root_client, kv1, 1, "k", "key") == "first"


def test_secrets_never_appear_in_any_output(
    openbao: OpenBao, root_client: hvac.Client, kv2: str, out_dir: Path
) -> None:
    policy = f'path "{kv2}/data/vault-storage-injector/*" {{ capabilities = ["create", "read"] }}'
    token = token_with_policy(root_client, policy)
    outputs = []
    for log_format in ("json", "text"):
        env = openbao.env(
            VAULT_TOKEN=token, VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns", VSI_LOG_FORMAT=log_format
        )
        outputs.append(
            run_injector(env, "--layout", "volume-keys", "--volume", "s1", "--output-dir", out_dir)
        )
    forbidden = env | {
        "VSI_VOLUMES": "s1",
        "VSI_LAYOUT": "volume-keys",
        "VSI_OUTPUT_DIR": str(out_dir),
    }
    key = (out_dir / "s1").read_bytes()
    outputs.append(
        run_injector(forbidden, "--key-path-template", "elsewhere/{pvc}", "--deadline", "3")
    )

    assert [r.code for r in outputs] == [0, 0, 1]
    for result in outputs:
        blob = result.output.encode()
        assert key not in blob
        assert base64.b64encode(key) not in blob
        assert token.encode() not in blob
        assert openbao.root_token.encode() not in blob
        assert key.hex().encode() not in blob
    assert os.listdir(out_dir) == []


def test_temporary_files_of_a_killed_run_are_removed_by_the_next_run(
    openbao: OpenBao, kv2: str, out_dir: Path
) -> None:
    stale = out_dir / ".vsi-tmp-vol-deadbeef"
    stale.write_bytes(b"half a key from a killed run")

    result = run_injector(
        openbao.env(VAULT_BACKEND_PATH=kv2, VSI_NAMESPACE="ns"),
        *("--layout", "volume-keys", "--volume", "vol", "--output-dir", out_dir),
    )

    assert result.code == 0, result.output
    assert sorted(p.name for p in out_dir.iterdir()) == ["vol"]

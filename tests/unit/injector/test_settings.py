"""Settings: a bad input is one line naming the flag or variable, exit 2, before any I/O."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from injector import cli
from injector.cli import parse
from injector.errors import SettingsError
from injector.model import AppRoleAuth, KubernetesAuth, TokenAuth
from vsi_common import names

NO_SA = Path("/nonexistent-service-account")


def base_env(out_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "VAULT_ADDR": "http://127.0.0.1:1",
        "VAULT_TOKEN": "s.secret-token-value",
        "VSI_LAYOUT": "volume-keys",
        "VSI_VOLUMES": "a,b",
        "VSI_OUTPUT_DIR": str(out_dir),
        "VSI_NAMESPACE": "ns",
    }
    env.update(extra)
    return env


def test_env_only_settings_parse_with_defaults(tmp_path: Path) -> None:
    settings = parse([], base_env(tmp_path), service_account_dir=NO_SA)

    assert settings.volumes == ("a", "b")
    assert settings.deadline == 60.0
    assert settings.vault.backend_path == "secret"
    assert settings.vault.kv_version is None
    assert isinstance(settings.vault.auth, TokenAuth)
    assert "secret-token-value" not in repr(settings)


def test_flags_override_environment(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    settings = parse(
        [
            "--volume",
            "x",
            "--volume",
            "y,z",
            "--output-dir",
            str(other),
            "--namespace",
            "n2",
            "--deadline",
            "2.5",
        ],
        base_env(tmp_path, VSI_DEADLINE="9"),
        service_account_dir=NO_SA,
    )

    assert settings.volumes == ("x", "y", "z")
    assert settings.output_dir == other
    assert settings.namespace == "n2"
    assert settings.deadline == 2.5


def test_namespace_falls_back_to_pod_namespace_then_service_account_file(tmp_path: Path) -> None:
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "namespace").write_text("from-file\n")
    env = base_env(tmp_path)
    del env["VSI_NAMESPACE"]

    assert parse([], env, service_account_dir=sa).namespace == "from-file"
    assert (
        parse([], env | {"POD_NAMESPACE": "from-env"}, service_account_dir=sa).namespace
        == "from-env"
    )


def test_auth_methods_and_kv_backend_spellings(tmp_path: Path) -> None:
    jwt = tmp_path / "jwt"
    jwt.write_text("a.b.c")
    k8s = base_env(
        tmp_path,
        VAULT_AUTH_METHOD="kubernetes",
        VAULT_AUTH_KUBERNETES_ROLE="osd",
        VAULT_AUTH_KUBERNETES_TOKEN_PATH=str(jwt),
        VAULT_BACKEND="v1",
    )
    approle = base_env(
        tmp_path,
        VAULT_AUTH_METHOD="approle",
        VAULT_APPROLE_ROLE_ID="r",
        VAULT_APPROLE_SECRET_ID="s",
        VAULT_BACKEND="kv-v2",
    )

    k8s_settings = parse([], k8s, service_account_dir=NO_SA).vault
    approle_settings = parse([], approle, service_account_dir=NO_SA).vault

    assert k8s_settings.auth == KubernetesAuth(role="osd", jwt_path=jwt, mount="kubernetes")
    assert k8s_settings.kv_version == 1
    assert isinstance(approle_settings.auth, AppRoleAuth)
    assert approle_settings.auth.mount == "approle"
    assert approle_settings.kv_version == 2


BAD = [
    ({"VAULT_ADDR": ""}, "VAULT_ADDR: required"),
    ({"VAULT_ADDR": "vault:8200"}, "VAULT_ADDR: expected an http or https URL"),
    ({"VAULT_ADDR": "http://h:port"}, "VAULT_ADDR: the port"),
    ({"VAULT_TOKEN": ""}, "VAULT_TOKEN: no credentials"),
    ({"VAULT_TOKEN": "has space"}, "VAULT_TOKEN: expected printable characters"),
    ({"VAULT_AUTH_METHOD": "ldap"}, "VAULT_AUTH_METHOD: expected token, kubernetes or approle"),
    ({"VAULT_AUTH_METHOD": "kubernetes"}, "VAULT_AUTH_KUBERNETES_ROLE: required"),
    (
        {"VAULT_AUTH_METHOD": "kubernetes", "VAULT_AUTH_KUBERNETES_ROLE": "r"},
        "VAULT_AUTH_KUBERNETES_TOKEN_PATH: expected a readable file",
    ),
    ({"VAULT_AUTH_METHOD": "approle"}, "VAULT_APPROLE_ROLE_ID: required"),
    ({"VAULT_BACKEND": "kv3"}, "VAULT_BACKEND: expected kv, kv-v2, v1 or v2"),
    ({"VAULT_BACKEND_PATH": "a/../b"}, "VAULT_BACKEND_PATH: expected a mount path"),
    ({"VAULT_SECRET_ENGINE": "transit"}, "VAULT_SECRET_ENGINE: transit is not supported yet"),
    ({"VAULT_CACERT": "/no/such/ca.pem"}, "VAULT_CACERT: expected a readable file"),
    ({"VAULT_CAPATH": "/no/such/dir"}, "VAULT_CAPATH: expected a directory"),
    ({"VAULT_CLIENT_CERT": "/etc/hostname"}, "VAULT_CLIENT_KEY: required when the other half"),
    ({"VAULT_TLS_SERVER_NAME": "bad name"}, "VAULT_TLS_SERVER_NAME: expected a DNS name"),
    ({"VAULT_SKIP_VERIFY": "maybe"}, "VAULT_SKIP_VERIFY: expected true or false"),
    ({"VSI_LAYOUT": "lvm"}, "VSI_LAYOUT: required, expected one of rook, volume-keys"),
    ({"VSI_VOLUMES": " , "}, "--volume/VSI_VOLUMES: required"),
    ({"VSI_VOLUMES": "Bad_Name"}, "VSI_VOLUMES: expected PVC names"),
    ({"VSI_VOLUMES": "a,a"}, "VSI_VOLUMES: volume 'a' is listed twice"),
    ({"VSI_LAYOUT": "rook"}, "--volume: the rook layout takes exactly one volume"),
    ({"VSI_OUTPUT_DIR": "/no/such/dir"}, "VSI_OUTPUT_DIR: expected an existing directory"),
    ({"VSI_NAMESPACE": "Not_Valid"}, "VSI_NAMESPACE: expected a namespace name"),
    ({"VSI_NAMESPACE": ""}, "--namespace/VSI_NAMESPACE: required for the volume-keys layout"),
    ({"VSI_DEADLINE": "soon"}, "VSI_DEADLINE: expected seconds"),
    ({"VSI_DEADLINE": "0"}, "VSI_DEADLINE: expected seconds in (0, 3600]"),
    ({"VSI_DEADLINE": "nan"}, "VSI_DEADLINE: expected seconds in"),
    ({"VSI_FILE_OWNER": "root"}, "VSI_FILE_OWNER: expected UID or UID:GID"),
    ({"VSI_FILE_GROUP_READABLE": "sure"}, "VSI_FILE_GROUP_READABLE: expected true or false"),
    ({"VSI_LOG_FORMAT": "xml"}, "VSI_LOG_FORMAT: expected json or text"),
    ({"VSI_KEY_PATH_TEMPLATE": "keys/{namespace}"}, "VSI_KEY_PATH_TEMPLATE: bad key path template"),
    ({"VSI_KEY_PATH_TEMPLATE": "keys/{user}/{pvc}"}, "unknown placeholder {user}"),
    ({"VSI_KEY_PATH_TEMPLATE": "../{pvc}"}, "is unsafe"),
    ({"VSI_SEED_FILE": "/etc/hostname"}, "VSI_SEED_FILE: only the rook layout takes a seed file"),
    ({"VSI_VERIFY_LUKS": "/no/such/device"}, "VSI_VERIFY_LUKS: takes one device"),
    ({"VAULT_ADDR": "https://[::1"}, "VAULT_ADDR: expected an http or https URL"),
    ({"VAULT_ADDR": "https://va ult:8200"}, "VAULT_ADDR: expected a DNS name or IP address"),
    ({"VAULT_ADDR": "https://vault%20x"}, "VAULT_ADDR: expected a DNS name or IP address"),
    (
        {"VSI_KV1_ALLOW_OVERWRITE_POLICY": "perhaps"},
        "VSI_KV1_ALLOW_OVERWRITE_POLICY: expected true or false",
    ),
]


@pytest.mark.parametrize(("override", "message"), BAD)
def test_bad_setting_is_one_line_naming_it(
    tmp_path: Path, override: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        parse([], base_env(tmp_path, **override), service_account_dir=NO_SA)

    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "addr", ["https://[::1]:8200", "http://10.0.0.7:8200", "https://vault.vault.svc.", "http://v_1"]
)
def test_vault_addr_accepts_dns_names_and_ip_addresses(tmp_path: Path, addr: str) -> None:
    settings = parse([], base_env(tmp_path, VAULT_ADDR=addr), service_account_dir=NO_SA)

    assert settings.vault.addr == addr


def test_a_malformed_vault_addr_exits_2_with_one_line_naming_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VSI_"))}
    env |= base_env(tmp_path, VAULT_ADDR="https://[::1")

    done = subprocess.run(
        [sys.executable, "-m", "injector"],
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr.startswith("vsi-injector: error: VAULT_ADDR: expected an http or https URL")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_rook_seed_must_be_base64_text(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    seed.write_bytes(b"abcd\n")
    env = base_env(tmp_path, VSI_LAYOUT="rook", VSI_VOLUMES="osd", VSI_SEED_FILE=str(seed))

    with pytest.raises(
        SettingsError, match=r"VSI_SEED_FILE: the seed in .* is unusable: it is not base64"
    ):
        parse([], env, service_account_dir=NO_SA)


def test_bad_flag_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="argument --layout: invalid choice"):
        parse(["--layout", "lvm"], base_env(tmp_path), service_account_dir=NO_SA)


def test_main_returns_2_and_prints_one_line_without_touching_the_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith(("VAULT_", "VSI_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv(names.VAULT_ADDR, "https://vault.invalid:8200")
    monkeypatch.setenv(names.VAULT_TOKEN, "s.do-not-print-me")

    code = cli.main(
        ["--layout", "volume-keys", "--volume", "v", "--output-dir", str(tmp_path / "missing")]
    )

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().count("\n") == 0
    assert "--output-dir: expected an existing directory" in captured.err
    assert "do-not-print-me" not in captured.err + captured.out


def test_settings_errors_import_no_network_library() -> None:
    probe = (
        "import sys\n"
        "from injector import cli\n"
        "code = cli.main(['--layout', 'rook'])\n"
        "libs = ('hvac', 'requests', 'urllib3', 'kubernetes_asyncio')\n"
        "loaded = [m for m in libs if m in sys.modules]\n"
        "print(code, loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env={}
    )

    assert done.stdout.strip() == "2 []"

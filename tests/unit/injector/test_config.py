"""Settings assembly: flags and VSI_* into `Settings`; a bad value is one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from injector.errors import SettingsError
from injector.settings.flags import Flags, build_settings
from injector.settings.model import TokenAuth
from tests.unit.injector.support import NO_SA, base_env


def test_env_only_settings_parse_with_defaults(tmp_path: Path) -> None:
    settings = build_settings(Flags(), base_env(tmp_path), service_account_dir=NO_SA)

    assert settings.volumes == ("a", "b")
    assert settings.deadline == 60.0
    assert settings.vault.backend_path == "secret"
    assert settings.vault.kv_version is None
    assert isinstance(settings.vault.auth, TokenAuth)
    assert "secret-token-value" not in repr(settings)


def test_namespace_falls_back_to_pod_namespace_then_service_account_file(tmp_path: Path) -> None:
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "namespace").write_text("from-file\n")
    env = base_env(tmp_path)
    del env["VSI_NAMESPACE"]

    assert build_settings(Flags(), env, service_account_dir=sa).namespace == "from-file"
    assert (
        build_settings(
            Flags(), env | {"POD_NAMESPACE": "from-env"}, service_account_dir=sa
        ).namespace
        == "from-env"
    )


BAD = [
    ({"VSI_LAYOUT": "lvm"}, "VSI_LAYOUT: required, expected one of rook, volume-keys"),
    ({"VSI_VOLUMES": " , "}, "--volume/VSI_VOLUMES: required"),
    ({"VSI_VOLUMES": "Bad_Name"}, "VSI_VOLUMES: expected PVC names"),
    ({"VSI_VOLUMES": "a,a"}, "VSI_VOLUMES: volume 'a' is listed twice"),
    ({"VSI_LAYOUT": "rook"}, "VSI_VOLUMES: the rook layout takes exactly one volume"),
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
        build_settings(Flags(), base_env(tmp_path, **override), service_account_dir=NO_SA)

    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_rook_seed_must_be_base64_text(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    seed.write_bytes(b"abcd\n")
    env = base_env(tmp_path, VSI_LAYOUT="rook", VSI_VOLUMES="osd", VSI_SEED_FILE=str(seed))

    with pytest.raises(
        SettingsError, match=r"VSI_SEED_FILE: the seed in .* is unusable: it is not base64"
    ):
        build_settings(Flags(), env, service_account_dir=NO_SA)


def test_a_check_needs_no_output_directory_but_a_run_does(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    del env["VSI_OUTPUT_DIR"]

    checked = build_settings(Flags(), env, check=True, service_account_dir=NO_SA)
    with pytest.raises(SettingsError, match="VSI_OUTPUT_DIR: required"):
        build_settings(Flags(), env, service_account_dir=NO_SA)

    assert checked.output_dir is None
    assert checked.volumes == ("a", "b")


def test_a_check_validates_an_output_directory_it_is_given(tmp_path: Path) -> None:
    env = base_env(tmp_path, VSI_OUTPUT_DIR=str(tmp_path / "missing"))

    with pytest.raises(SettingsError, match="VSI_OUTPUT_DIR: expected an existing directory"):
        build_settings(Flags(), env, check=True, service_account_dir=NO_SA)

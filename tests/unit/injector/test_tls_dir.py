"""VSI_TLS_DIR: the injector uses the TLS files the webhook mounted, whichever of them exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from injector.errors import SettingsError
from injector.settings.vault_env import parse_vault
from tests.unit.injector.support import NO_SA, base_env


def _tls_dir(tmp_path: Path, *files: str) -> Path:
    directory = tmp_path / "tls"
    directory.mkdir()
    for name in files:
        (directory / name).write_text(f"{name} PEM")
    return directory


def test_a_ca_only_directory_gives_the_ca_and_no_client_pair(tmp_path: Path) -> None:
    directory = _tls_dir(tmp_path, "ca.crt")

    tls = parse_vault(base_env(tmp_path, VSI_TLS_DIR=str(directory)), NO_SA).tls

    assert (tls.cacert, tls.client_cert, tls.client_key) == (directory / "ca.crt", None, None)


def test_a_full_directory_gives_the_ca_and_the_client_pair(tmp_path: Path) -> None:
    directory = _tls_dir(tmp_path, "ca.crt", "tls.crt", "tls.key")

    tls = parse_vault(base_env(tmp_path, VSI_TLS_DIR=str(directory)), NO_SA).tls

    assert (tls.cacert, tls.client_cert, tls.client_key) == (
        directory / "ca.crt",
        directory / "tls.crt",
        directory / "tls.key",
    )


def test_files_are_found_through_the_symlinks_a_secret_volume_uses(tmp_path: Path) -> None:
    directory = _tls_dir(tmp_path)
    data = directory / "..2026_01_01"
    data.mkdir()
    (data / "ca.crt").write_text("PEM")
    (directory / "..data").symlink_to(data.name)
    (directory / "ca.crt").symlink_to("..data/ca.crt")

    tls = parse_vault(base_env(tmp_path, VSI_TLS_DIR=str(directory)), NO_SA).tls

    assert tls.cacert == directory / "ca.crt"


def test_explicit_settings_win_over_the_directory(tmp_path: Path) -> None:
    directory = _tls_dir(tmp_path, "ca.crt", "tls.crt", "tls.key")
    other = tmp_path / "other.pem"
    other.write_text("PEM")
    env = base_env(
        tmp_path,
        VSI_TLS_DIR=str(directory),
        VAULT_CAPATH=str(tmp_path),
        VAULT_CLIENT_CERT=str(other),
        VAULT_CLIENT_KEY=str(other),
    )

    tls = parse_vault(env, NO_SA).tls

    # VAULT_CAPATH chose the CAs: the directory's ca.crt would take precedence over it, so it
    # is not used; the pair the admin named is kept.
    assert (tls.cacert, tls.capath) == (None, tmp_path)
    assert (tls.client_cert, tls.client_key) == (other, other)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (("ca.crt", "tls.crt"), "holds tls.crt but no tls.key"),
        (("tls.key",), "holds tls.key but no tls.crt"),
    ],
)
def test_half_a_client_pair_is_a_settings_error(
    tmp_path: Path, files: tuple[str, ...], message: str
) -> None:
    directory = _tls_dir(tmp_path, *files)
    with pytest.raises(SettingsError) as info:
        parse_vault(base_env(tmp_path, VSI_TLS_DIR=str(directory)), NO_SA)
    assert str(info.value).startswith("VSI_TLS_DIR: ")
    assert message in str(info.value)


def test_a_missing_directory_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^VSI_TLS_DIR: expected the directory"):
        parse_vault(base_env(tmp_path, VSI_TLS_DIR=str(tmp_path / "nope")), NO_SA)

"""docs/profiles.md must describe every name, default and field the code uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import vault_table
from vsi_common import names
from webhook.core import config, profiles, vault_connection
from webhook.core import constants as c

DOC = (Path(__file__).resolve().parents[3] / "docs" / "profiles.md").read_text()

NAMES = [
    c.LABEL_ENABLED,
    c.ANNOTATION_INJECT,
    c.ANNOTATION_PROFILE,
    c.ANNOTATION_STATUS,
    c.STATUS_INJECTED,
    c.ANNOTATION_MIRROR_POD,
    c.IMAGE_REPOSITORY,
    c.DEFAULT_IMAGE_PULL_POLICY,
    c.INJECTOR_CONTAINER_NAME,
    str(c.DEFAULT_RUN_AS_USER),
    c.KEY_VOLUME_NAME,
    c.DEFAULT_KEY_MOUNT_PATH,
    c.DEFAULT_KEY_SIZE_LIMIT,
    c.TLS_MOUNT_PATH,
    c.TLS_CA_FILE,
    c.TLS_CERT_FILE,
    c.TLS_KEY_FILE,
    c.TLS_VOLUME_NAME,
    names.VSI_TLS_DIR,
    vault_connection.KMS_PROVIDER,
    c.SEED_VOLUME_NAME,
    c.SEED_MOUNT_PATH,
    c.PORTWORX_CONTAINER,
    f"{c.SECRET_TYPE_FLAG} {c.SECRET_TYPE_VAULT}",
    c.STORAGE_CLUSTER_GROUP,
    c.DEFAULT_PX_SECRET,
    c.PX_SECRETS_NAMESPACE_ENV,
    c.PX_DAEMONSET_SECRETS_NAMESPACE,
    c.PX_SECRETS_ROLE,
    c.PX_CLUSTER_KEY_SECRET,
    f"{c.PX_OPERATOR_LABEL_MANAGED_BY}: {c.PX_OPERATOR_MANAGED_BY}",
    f"{c.PX_OPERATOR_VOLUME_PREFIX}<name>",
    c.DEFAULT_ROOK_SECRET,
    c.DEFAULT_VOLUME_KEYS_SECRET,
    f"{c.ROOK_APP_LABEL}: {c.ROOK_OSD_APP}",
    c.ROOK_PVC_LABEL,
    c.ROOK_KEY_VOLUME,
    c.ROOK_KEY_FILE,
    c.ROOK_SECRET_KEY,
    c.ROOK_KMS_INIT_CONTAINER,
    c.TOKEN_SECRET_KEY,
    f"{c.ROOK_APP_LABEL}: {c.ROOK_OPERATOR_APP}",
    "rook " + " ".join(c.ROOK_OPERATOR_ARGS),
    f"{c.ROOK_APP_LABEL}: {c.ROOK_PREPARE_APP}",
    f"`{c.ROOK_PROVISION_CONTAINER}` (`/rook/rook " + " ".join(c.ROOK_PROVISION_ARGS) + "`)",
    f'{c.ROOK_ENCRYPTED_DEVICE_ENV}: "true"',
    f"{c.ROOK_KMS_PROVIDER_ENV}: {c.ROOK_KMS_VAULT}",
    f"{c.ROOK_APP_LABEL}: {c.ROOK_KEY_ROTATION_APP}",
    "rook " + " ".join(c.ROOK_ROTATE_ARGS),
    "rook " + " ".join(c.ROOK_GET_KEK_ARGS) + " <pvc> /etc/ceph/luks_key",
    c.ROOK_OPEN_CONTAINER,
    *(f"`{name}`" for name in sorted(c.ROOK_OWN_SETTINGS)),
    f"`{c.ROOK_DEFAULT_BACKEND_PATH}/`",
    c.CRYPTSETUP_LOCK_VOLUME,
    c.CRYPTSETUP_LOCK_DIR,
    f"runAsGroup: {c.DISK_GROUP}",
    names.VSI_VERIFY_LUKS,
    *c.DEFAULT_REQUESTS.values(),
    *c.DEFAULT_LIMITS.values(),
]


@pytest.mark.parametrize("name", NAMES)
def test_doc_mentions_every_name_and_default(name: str) -> None:
    assert name in DOC


@pytest.mark.parametrize("profile_type", c.PROFILE_TYPES)
def test_doc_has_a_builtin_row_for_every_profile_type(profile_type: str) -> None:
    assert f"| `{profile_type}` |" in DOC


@pytest.mark.parametrize(
    "reason",
    [getattr(c, n) for n in dir(c) if n.startswith("SKIP_")],
)
def test_doc_lists_every_skip_reason(reason: str) -> None:
    assert f"| `{reason}` |" in DOC


FIELDS = (
    [f"`injector.{f}`" for f in config.INJECTOR.names]
    + [f"`keyVolume.{f}`" for f in config.KEY_VOLUME.names]
    + [f"`profiles[].{f}`" for f in config.PROFILE.names if f != "connection"]
    + [f"`profiles[].connection.{f}`" for f in vault_connection.CONNECTION.names]
    + [f"`profiles[].connection.kms.{f}`" for f in vault_connection.KMS.names]
    + [
        f"`{f}`"
        for f in config.PROFILES_FILE.names
        if f not in {"injector", "keyVolume", "profiles"}
    ]
)


@pytest.mark.parametrize("field", FIELDS)
def test_doc_reference_table_has_every_config_field(field: str) -> None:
    assert f"| {field} |" in DOC


def test_builtin_profile_secrets_in_doc_match_the_code() -> None:
    for profile in profiles.BUILTIN_PROFILES:
        row = next(line for line in DOC.splitlines() if line.startswith(f"| `{profile.name}` |"))
        assert f"Secret `{profile.connection.secret}`" in row


def test_the_vault_settings_table_is_the_one_the_rules_give() -> None:
    assert vault_table.expected_text(DOC) == DOC, "run python -m tools.vault_table"
    assert vault_table.main(["--check"]) == 0
    for name in names.ALL_SETTINGS:
        assert f"| `{name}` |" in vault_table.table()

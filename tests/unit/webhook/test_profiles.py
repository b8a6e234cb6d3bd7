"""The profiles file: defaults, built-ins, and one-line errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from vsi_common import names
from webhook.core import constants as c
from webhook.core.config import load_config, parse_config
from webhook.core.profiles import Connection
from webhook.core.tls import secret_source
from webhook.errors import ConfigError


def test_no_config_gives_the_four_builtin_profiles_and_the_package_image() -> None:
    config = load_config(None)
    assert [p.name for p in config.profiles] == list(c.PROFILE_TYPES)
    assert config.injector.image == c.default_image()
    assert config.injector.image.endswith(":0.1.0")
    assert config.secret_names == {"px-vault", "rook-vault", "vsi-vault"}


def test_empty_file_means_defaults() -> None:
    assert parse_config("", source="p.yaml").profiles == load_config(None).profiles


def test_empty_sections_mean_their_defaults() -> None:
    config = parse_config(
        "injector: {resources: {requests: , limits: }}\nkeyVolume:\nprofiles:\n", source="p.yaml"
    )
    assert config.profiles == load_config(None).profiles
    assert config.key_volume == load_config(None).key_volume
    assert config.injector.resources.requests == config.injector.resources.limits == ()


def test_a_configured_profile_overrides_the_builtin_of_the_same_name_and_comes_first() -> None:
    config = parse_config(
        """
profiles:
  - name: rook-osd
    type: rook-osd
    connection:
      values: {VAULT_ADDR: "https://vault:8200", VAULT_BACKEND_PATH: rook}
      tokenSecret: rook-vault-token
      tlsSecret: vault-tls
""",
        source="p.yaml",
    )
    assert [p.name for p in config.profiles] == [
        "rook-osd",
        "portworx",
        "portworx-operator",
        "rook-kms",
        "volume-keys",
    ]
    rook = config.profile("rook-osd")
    assert rook is not None
    assert rook.connection == Connection(
        values=((names.VAULT_ADDR, "https://vault:8200"), (names.VAULT_BACKEND_PATH, "rook")),
        token_secret="rook-vault-token",
        tls=secret_source("vault-tls", ["ca.crt"]),
    )
    # rook-vault stays: the built-in rook-kms profile uses it too.
    assert config.secret_names == {
        "px-vault",
        "vsi-vault",
        "rook-vault",
        "rook-vault-token",
        "vault-tls",
    }


def test_builtin_profiles_false_keeps_only_the_configured_ones() -> None:
    config = parse_config(
        "builtinProfiles: false\n"
        "profiles: [{name: px, type: portworx, connection: {secret: px-east}}]\n",
        source="p.yaml",
    )
    assert [p.name for p in config.profiles] == ["px"]


def test_injector_and_key_volume_settings_are_read() -> None:
    config = parse_config(
        """
injector:
  image: registry.local/vsi:1.2.3
  imagePullPolicy: Always
  runAsUser: 1001
  resources: {requests: {cpu: 5m}, limits: {memory: 64Mi}}
keyVolume: {sizeLimit: 2Mi, mountPath: /run/keys/}
""",
        source="p.yaml",
    )
    assert config.injector.image == "registry.local/vsi:1.2.3"
    assert config.injector.image_pull_policy == "Always"
    assert config.injector.run_as_user == 1001
    assert config.injector.resources.requests == (("cpu", "5m"),)
    assert config.injector.resources.limits == (("memory", "64Mi"),)
    assert (config.key_volume.size_limit, config.key_volume.mount_path) == ("2Mi", "/run/keys")


def _conn(connection: str) -> str:
    """A one-profile file whose connection is ``connection`` (flow YAML)."""
    return f"profiles: [{{name: a, type: rook-osd, connection: {connection}}}]"


BAD = [
    ("bogus: 1", "p.yaml: bogus: unknown field"),
    ("injector: {imge: x}", "p.yaml: injector.imge: unknown field"),
    ("injector: {runAsUser: 0}", "p.yaml: injector.runAsUser: expected a non-zero uid"),
    ("injector: {runAsUser: true}", "p.yaml: injector.runAsUser: expected a non-zero uid"),
    ("injector: {imagePullPolicy: Sometimes}", "p.yaml: injector.imagePullPolicy: expected one of"),
    ("injector: {resources: {limits: {gpu: 1}}}", "p.yaml: injector.resources.limits.gpu: unknown"),
    (
        "injector: {resources: {limits: {cpu: lots}}}",
        "p.yaml: injector.resources.limits.cpu: expected a quantity",
    ),
    ("keyVolume: {mountPath: relative}", "p.yaml: keyVolume.mountPath: expected an absolute path"),
    ("keyVolume: {sizeLimit: [1]}", "p.yaml: keyVolume.sizeLimit: expected a quantity"),
    ("builtinProfiles: yes-please", "p.yaml: builtinProfiles: expected true or false"),
    ("profiles: {}", "p.yaml: profiles: expected a list"),
    (
        "profiles: [{name: a, type: rook-osd}]",
        "p.yaml: profiles[0].connection: required field is missing",
    ),
    (
        "profiles: [{name: A_b, type: rook-osd, connection: {secret: s}}]",
        "p.yaml: profiles[0].name: expected a DNS-1123 label",
    ),
    (
        "profiles: [{name: a, type: ceph, connection: {secret: s}}]",
        "p.yaml: profiles[0].type: expected one of portworx",
    ),
    (
        "profiles: [{name: a, type: rook-osd, connection: {secret: s}},"
        " {name: a, type: portworx, connection: {secret: s}}]",
        "p.yaml: profiles[1].name: duplicate profile 'a'",
    ),
    (
        _conn("{}"),
        "p.yaml: profiles[0].connection: expected exactly one of",
    ),
    (
        _conn("{secret: Bad_Name}"),
        "p.yaml: profiles[0].connection.secret: expected a Secret name",
    ),
    (
        _conn("{secret: a..b}"),  # accepted before the name rules were shared
        "p.yaml: profiles[0].connection.secret: expected a Secret name",
    ),
    (
        _conn("{secret: s, tlsSecret: a.-b}"),
        "p.yaml: profiles[0].connection.tlsSecret: expected a Secret name",
    ),
    (
        _conn("{secret: s, tokenSecret: t}"),
        "p.yaml: profiles[0].connection.tokenSecret: only allowed with 'values'",
    ),
    (
        _conn("{values: {VAULT_TOKEN: s.abc, VAULT_ADDR: 'http://v'}}"),
        "p.yaml: profiles[0].connection.values.VAULT_TOKEN: credentials may only come from",
    ),
    (
        _conn("{values: {VAULT_APPROLE_SECRET_ID: x, VAULT_ADDR: 'http://v'}}"),
        "p.yaml: profiles[0].connection.values.VAULT_APPROLE_SECRET_ID: credentials",
    ),
    (
        _conn("{values: {VAULT_ADRR: 'http://v'}}"),
        "p.yaml: profiles[0].connection.values.VAULT_ADRR: unknown field",
    ),
    (
        _conn("{values: {VAULT_BACKEND_PATH: x}}"),
        "p.yaml: profiles[0].connection.values.VAULT_ADDR: required field is missing",
    ),
    (
        _conn("{values: {VAULT_ADDR: vault:8200}}"),
        "p.yaml: profiles[0].connection.values.VAULT_ADDR: expected an http:// or https:// URL",
    ),
    (
        _conn("{values: {VAULT_ADDR: 'http://v', VAULT_SKIP_VERIFY: true}}"),
        "p.yaml: profiles[0].connection.values.VAULT_SKIP_VERIFY: expected a string",
    ),
    (
        _conn("{tlsSecret: t, values: {VAULT_ADDR: 'http://v', VAULT_CACERT: /x}}"),
        "p.yaml: profiles[0].connection.values.VAULT_CACERT: set by tlsSecret",
    ),
    ("profiles: [a: [", "p.yaml: invalid YAML at line 1"),
    ("- just\n- a list", "p.yaml: (top level): expected a mapping, got a list"),
    (
        "keyVolume: {mountPath: 2024-01-01}",
        "p.yaml: keyVolume.mountPath: expected a non-empty string, got date",
    ),
    (
        _conn("{values: {VAULT_ADDR: 'http://v', VAULT_BACKEND_PATH: ' '}, tokenSecret: t}"),
        "p.yaml: profiles[0].connection.values.VAULT_BACKEND_PATH: expected a non-empty string",
    ),
    (
        "injector: {resources: {limits: []}}",
        "p.yaml: injector.resources.limits: expected a mapping, got a list",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_invalid_config_is_one_line_naming_file_field_and_expectation(
    text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="p.yaml")
    text_out = str(info.value)
    assert text_out.startswith(message)
    assert "\n" not in text_out
    assert info.value.exit_code == 2


def test_config_errors_never_echo_a_credential_value() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            _conn("{values: {VAULT_ADDR: 'http://v', VAULT_TOKEN: hvs.SECRET123}}"),
            source="p.yaml",
        )
    assert "hvs.SECRET123" not in str(info.value)


def test_load_config_reports_an_unreadable_file_as_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope.yaml: cannot read the profiles file"):
        load_config(missing)


def test_load_config_reports_a_file_that_is_not_utf8_as_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"profiles: [{name: caf\xe9}]\n")
    with pytest.raises(ConfigError, match=r"latin1.yaml: the profiles file is not UTF-8 text$"):
        load_config(path)


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text("injector: {runAsUser: 4242}\n")
    assert load_config(path).injector.run_as_user == 4242
    assert load_config(str(path)).source == str(path)


@pytest.mark.parametrize(
    ("path", "reserved"),
    [
        (c.TLS_MOUNT_PATH, c.TLS_MOUNT_PATH),
        (c.TLS_MOUNT_PATH + "/", c.TLS_MOUNT_PATH),
        (c.TLS_MOUNT_PATH + "/keys", c.TLS_MOUNT_PATH),
        ("/etc/vault-storage-injector", c.TLS_MOUNT_PATH),
        ("/var/run/vault-storage-injector", c.SEED_MOUNT_PATH),
        (c.SEED_MOUNT_PATH, c.SEED_MOUNT_PATH),
        (c.DEFAULT_KEY_MOUNT_PATH + "/../seed/x", c.SEED_MOUNT_PATH),
    ],
)
def test_key_mount_path_equal_to_containing_or_inside_the_tls_or_seed_mount_is_refused(
    path: str, reserved: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(f"keyVolume: {{mountPath: '{path}'}}", source="p.yaml")
    assert str(info.value).startswith(
        f"p.yaml: keyVolume.mountPath: must not be, contain or lie inside {reserved}"
    )
    assert "\n" not in str(info.value)


def test_key_mount_path_next_to_the_reserved_mounts_is_accepted() -> None:
    config = parse_config(f"keyVolume: {{mountPath: '{c.TLS_MOUNT_PATH}-keys'}}", source="p.yaml")
    assert config.key_volume.mount_path == c.TLS_MOUNT_PATH + "-keys"


# --- Rook's security.kms block, verbatim ---------------------------------------------------------

KMS_004 = """
profiles:
  - name: rook-osd
    type: rook-osd
    connection:
      kms:
        connectionDetails:
          KMS_PROVIDER: vault
          VAULT_ADDR: https://vault.default.svc.cluster.local:8200
          VAULT_BACKEND_PATH: rook
          VAULT_SECRET_ENGINE: kv
          VAULT_CACERT: vault-tls-ca-certificate
          VAULT_CLIENT_CERT: vault-client-cert
          VAULT_CLIENT_KEY: vault-client-key
        tokenSecretName: rook-vault-token
"""
"""The TLS configuration of the Rook KMS document, with its token Secret."""


def test_rooks_kms_block_is_accepted_verbatim() -> None:
    config = parse_config(KMS_004, source="p.yaml")
    rook = config.profile("rook-osd")
    assert rook is not None
    conn = rook.connection
    assert conn.values == (
        (names.VAULT_ADDR, "https://vault.default.svc.cluster.local:8200"),
        (names.VAULT_BACKEND_PATH, "rook"),
        (names.VAULT_SECRET_ENGINE, "kv"),
    )
    assert conn.token_secret == "rook-vault-token"
    assert conn.auth_method == "token"
    assert conn.tls is not None
    assert [(f.setting, f.secret, f.key, f.path) for f in conn.tls.files] == [
        (names.VAULT_CACERT, "vault-tls-ca-certificate", "cert", "ca.crt"),
        (names.VAULT_CLIENT_CERT, "vault-client-cert", "cert", "tls.crt"),
        (names.VAULT_CLIENT_KEY, "vault-client-key", "key", "tls.key"),
    ]
    assert conn.tls.declared == {f.setting for f in conn.tls.files}
    assert conn.kms is not None
    assert conn.kms.connection_details[0] == ("KMS_PROVIDER", "vault")
    assert len(conn.kms.connection_details) == 7
    assert {
        "vault-tls-ca-certificate",
        "vault-client-cert",
        "vault-client-key",
        "rook-vault-token",
    } <= config.secret_names


def test_rooks_kubernetes_auth_block_needs_no_token_secret() -> None:
    config = parse_config(
        _conn(
            "{kms: {connectionDetails: {KMS_PROVIDER: vault, VAULT_ADDR: 'https://v:8200',"
            " VAULT_BACKEND_PATH: rook, VAULT_SECRET_ENGINE: kv, VAULT_AUTH_METHOD: kubernetes,"
            " VAULT_AUTH_KUBERNETES_ROLE: rook-ceph}}}"
        ),
        source="p.yaml",
    )
    profile = config.profile("a")
    assert profile is not None
    assert profile.connection.auth_method == "kubernetes"
    assert profile.connection.tls is None


def test_the_long_tls_secret_form_declares_what_the_secret_holds() -> None:
    config = parse_config(
        _conn("{secret: s, tlsSecret: {name: t, keys: [ca.crt, tls.crt, tls.key]}}"),
        source="p.yaml",
    )
    profile = config.profile("a")
    assert profile is not None
    assert profile.connection.tls == secret_source("t", ["ca.crt", "tls.crt", "tls.key"])


KMS = "{kms: {connectionDetails: {%s}, tokenSecretName: tok}}"
ADDR = "KMS_PROVIDER: vault, VAULT_ADDR: 'https://v:8200'"
BAD_CONNECTIONS = [
    (
        _conn("{kms: {connectionDetails: {VAULT_ADDR: 'https://v'}, tokenSecretName: t}}"),
        "p.yaml: profiles[0].connection.kms.connectionDetails.KMS_PROVIDER: required field",
    ),
    (
        _conn(KMS % "KMS_PROVIDER: kmip, VAULT_ADDR: 'https://v'"),
        "p.yaml: profiles[0].connection.kms.connectionDetails.KMS_PROVIDER: expected vault",
    ),
    (
        _conn(KMS % f"{ADDR}, VAULT_CACERT: /etc/ssl/ca.pem"),
        "p.yaml: profiles[0].connection.kms.connectionDetails.VAULT_CACERT: expected the name "
        "of a Secret with key cert",
    ),
    (
        _conn(KMS % f"{ADDR}, VAULT_CLIENT_CERT: c"),
        "p.yaml: profiles[0].connection.kms.connectionDetails.VAULT_CLIENT_KEY: required with",
    ),
    (
        _conn(KMS % f"{ADDR}, VAULT_CAPATH: /etc/ssl"),
        "p.yaml: profiles[0].connection.kms.connectionDetails.VAULT_CAPATH: not supported by Rook",
    ),
    (
        _conn(KMS % f"{ADDR}, VAULT_TOKEN: s.abc"),
        "p.yaml: profiles[0].connection.kms.connectionDetails.VAULT_TOKEN: credentials",
    ),
    (
        _conn(KMS % f"{ADDR}, IBM_KP_SERVICE_INSTANCE_ID: x"),
        "p.yaml: profiles[0].connection.kms.connectionDetails.IBM_KP_SERVICE_INSTANCE_ID: unknown",
    ),
    (
        _conn("{kms: {tokenSecretName: t}}"),
        "p.yaml: profiles[0].connection.kms.connectionDetails: required field is missing",
    ),
    (
        _conn("{kms: {connectionDetails: {}, encryptionKeys: x}}"),
        "p.yaml: profiles[0].connection.kms.encryptionKeys: unknown field",
    ),
    (
        _conn(f"{{kms: {{connectionDetails: {{{ADDR}}}}}, tlsSecret: t}}"),
        "p.yaml: profiles[0].connection.tlsSecret: not allowed with 'kms'",
    ),
    (
        _conn(f"{{kms: {{connectionDetails: {{{ADDR}}}}}}}"),
        "p.yaml: profiles[0].connection.kms: no credentials: add tokenSecretName",
    ),
    (
        _conn("{values: {VAULT_ADDR: 'http://v'}}"),
        "p.yaml: profiles[0].connection: no credentials: add tokenSecret",
    ),
    (
        _conn("{values: {VAULT_ADDR: 'http://v', VAULT_AUTH_METHOD: token}}"),
        "p.yaml: profiles[0].connection.values.VAULT_AUTH_METHOD: token auth needs tokenSecret",
    ),
    (
        _conn("{values: {VAULT_ADDR: 'http://v', VAULT_AUTH_METHOD: kubernetes}}"),
        "p.yaml: profiles[0].connection.values.VAULT_AUTH_KUBERNETES_ROLE: required with",
    ),
    (
        _conn("{values: {VAULT_ADDR: 'http://v', VAULT_AUTH_METHOD: approle}}"),
        "p.yaml: profiles[0].connection.values.VAULT_AUTH_METHOD: approle needs",
    ),
    (
        _conn("{values: {VAULT_ADDR: 'http://v', VAULT_AUTH_METHOD: ldap}, tokenSecret: t}"),
        "p.yaml: profiles[0].connection.values.VAULT_AUTH_METHOD: expected one of token",
    ),
    (
        _conn("{tlsSecret: t, values: {VAULT_ADDR: 'http://v', VAULT_CAPATH: /etc/ssl}}"),
        "p.yaml: profiles[0].connection.values.VAULT_CAPATH: set by tlsSecret",
    ),
    (
        _conn("{secret: s, tlsSecret: {keys: [ca.crt]}}"),
        "p.yaml: profiles[0].connection.tlsSecret.name: required field is missing",
    ),
    (
        _conn("{secret: s, tlsSecret: {name: t, keys: [ca.pem]}}"),
        "p.yaml: profiles[0].connection.tlsSecret.keys: expected a list of ca.crt, tls.crt",
    ),
    (
        _conn("{secret: s, tlsSecret: {name: t, keys: [ca.crt, tls.crt]}}"),
        "p.yaml: profiles[0].connection.tlsSecret.keys: tls.crt and tls.key go together",
    ),
    (
        _conn("{secret: s, tlsSecret: {name: t, keys: []}}"),
        "p.yaml: profiles[0].connection.tlsSecret.keys: expected a list",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONNECTIONS)
def test_invalid_connection_is_one_line_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="p.yaml")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_a_kms_credential_value_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_conn(KMS % f"{ADDR}, VAULT_TOKEN: hvs.SECRET123"), source="p.yaml")
    assert "hvs.SECRET123" not in str(info.value)

"""values.schema.json and the webhook's own profile parser agree, so a bad profile fails at install.

The schema models `profiles` (and `injector`, `keyVolume`) by hand, in JSON Schema draft-07 (what
Helm 3 and Helm 4 both read). These tests keep it honest against `webhook.core.config` and
`webhook.core.vault_connection`:

- the fields: every field the parser accepts is in the schema and every field of the schema is
  one the parser accepts, the enums are the parser's constants (a new profile type fails here,
  naming the schema entry to extend);
- the verdicts: generated profiles (fields and values drawn from pools of good and bad ones) are
  accepted by the schema exactly when `parse_config` accepts them, and the same for
  `keyVolume.mountPath` around every path the injector reserves;
- a set of good profiles renders into a ConfigMap the parser loads, and a set of bad ones is
  refused by both: by `helm template` (Helm 4 and Helm 3, naming the key) and by the parser.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.charts.conftest import CHART, HELMS, find, key_named, refused, render
from vsi_common import names
from webhook.core import config as parser
from webhook.core import constants as c
from webhook.core import tls as t
from webhook.core import vault_connection as connections
from webhook.errors import ConfigError

SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
DEFS: dict[str, Any] = SCHEMA["definitions"]
VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)
FROM_IMAGE = {"image", "imagePullPolicy"}
"""``injector`` fields the chart fills from ``image.*`` (one image reference for everything)."""


def schema_accepts(values: dict[str, Any]) -> bool:
    return VALIDATOR.is_valid(values)


def parser_accepts(config: dict[str, Any]) -> bool:
    try:
        parser.parse_config(yaml.safe_dump(config), source="config.yaml")
    except ConfigError:
        return False
    return True


def props(definition: dict[str, Any]) -> set[str]:
    return set(definition["properties"])


# --- the fields -----------------------------------------------------------------------------------


def test_the_profile_types_are_the_webhooks() -> None:
    enum = DEFS["profile"]["properties"]["type"]["enum"]
    assert enum == list(c.PROFILE_TYPES), (
        "webhook/core/constants.PROFILE_TYPES is "
        f"{list(c.PROFILE_TYPES)}: set charts/vault-storage-injector/values.schema.json "
        "definitions.profile.properties.type.enum to it (and model what the new type accepts)"
    )


def test_every_profile_field_is_in_the_schema_and_no_other() -> None:
    assert props(DEFS["profile"]) == set(parser.PROFILE.names)
    assert set(DEFS["profile"]["required"]) == set(parser.PROFILE.names)
    assert props(DEFS["connection"]) == set(connections.CONNECTION.names)
    (_, long_form) = DEFS["tlsSecret"]["oneOf"]
    assert props(long_form) == set(connections.TLS_SECRET.long.names)
    files = [file for _, file in names.TLS_FILES]
    assert long_form["properties"]["keys"]["items"]["enum"] == files
    assert props(DEFS["kms"]) == set(connections.KMS.names)


def test_the_vault_settings_are_the_webhooks() -> None:
    plain = set(names.VAULT_SETTINGS) - connections.CREDENTIAL_SETTINGS
    assert props(DEFS["vaultValues"]) == plain
    details = DEFS["kmsConnectionDetails"]
    assert props(details) == {connections.KMS_PROVIDER} | plain - {names.VAULT_CAPATH}
    assert (
        details["properties"][connections.KMS_PROVIDER]["const"] == connections.KMS_PROVIDER_VAULT
    )
    secret_named = {
        key
        for key, value in details["properties"].items()
        if value == {"$ref": "#/definitions/tlsSecretName"}
    }
    assert secret_named == connections.TLS_SETTINGS
    methods = [m for m in connections.AUTH_METHODS if m != "approle"]
    for definition in (DEFS["vaultValues"], details):
        assert definition["properties"][names.VAULT_AUTH_METHOD]["enum"] == methods
    (owned_rule,) = [
        rule["then"]["properties"]["values"]["propertyNames"]["not"]["enum"]
        for rule in DEFS["connection"]["allOf"]
        if rule["if"] == {"required": ["values", "tlsSecret"]}
    ]
    assert set(owned_rule) == t.OWNED_SETTINGS


def test_the_config_file_fields_are_the_chart_values() -> None:
    top = SCHEMA["properties"]
    assert set(parser.PROFILES_FILE.names) <= set(top)
    assert props(top["injector"]) == set(parser.INJECTOR.names) - FROM_IMAGE
    assert top["image"]["properties"]["pullPolicy"]["enum"] == list(parser.PULL_POLICIES)
    for part in ("requests", "limits"):
        assert props(DEFS["injectorResources"]["properties"][part]) == set(parser.RESOURCE_NAMES)
    assert props(top["keyVolume"]) == set(parser.KEY_VOLUME.names)


def test_the_defaults_in_values_yaml_are_the_webhooks() -> None:
    assert VALUES["builtinProfiles"] is True
    assert VALUES["profiles"] == []
    assert VALUES["injector"] == {
        "runAsUser": c.DEFAULT_RUN_AS_USER,
        "resources": {"requests": dict(c.DEFAULT_REQUESTS), "limits": dict(c.DEFAULT_LIMITS)},
    }
    assert VALUES["keyVolume"] == {
        "sizeLimit": c.DEFAULT_KEY_SIZE_LIMIT,
        "mountPath": c.DEFAULT_KEY_MOUNT_PATH,
    }
    assert VALUES["image"]["repository"] == c.IMAGE_REPOSITORY
    assert VALUES["image"]["pullPolicy"] == c.DEFAULT_IMAGE_PULL_POLICY


# --- the verdicts ---------------------------------------------------------------------------------


# Pools of values, good and bad, for each kind of field, weighted so that about a third of the
# generated profiles are valid. No value has leading or trailing blanks or capitals where the
# parser would trim or lower-case them: the schema is stricter there on purpose (a value with
# stray blanks fails at install rather than being fixed silently).
def mostly(good: list[Any], bad: list[Any]) -> st.SearchStrategy[Any]:
    """One of ``good`` four times in five, else one of ``bad``."""
    return st.sampled_from(range(5)).flatmap(lambda i: st.sampled_from(bad if i == 4 else good))


def rarely(key: str, value: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``{key: value}`` one time in five, else nothing."""
    return st.sampled_from(range(5)).flatmap(
        lambda i: value.map(lambda v: {key: v}) if i == 4 else st.just({})
    )


def merged(*parts: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(*parts).map(lambda dicts: {k: v for d in dicts for k, v in d.items()})


def maybe(key: str, value: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``{key: value}`` or nothing, evenly."""
    return st.one_of(st.just({}), value.map(lambda v: {key: v}))


SECRET_NAMES = mostly(["px-vault", "vault.tls"], ["a..b", "UPPER", "", 5, None, ["x"]])
ADDRESSES = mostly(["https://vault:8200", "http://10.0.0.1"], ["ftp://x", "https://", 8200, ""])
METHODS = mostly(["token", "kubernetes"], ["approle", "ldap", "", 1])
SETTINGS = mostly(["x", "rook", " spaced ", 5], ["", " ", 5.5, True, None, {"a": 1}])
TLS_SECRET_SETTINGS = mostly(["vault-ca", 7], ["a..b", -1, "", True])
KEYS = mostly([["ca.crt"], ["tls.crt", "tls.key"]], [[], ["tls.crt"], ["ca.crt", "ca.crt"]])
OTHER_SETTINGS = [
    s_ for s_ in names.VAULT_SETTINGS if s_ not in {names.VAULT_ADDR, names.VAULT_AUTH_METHOD}
]
BOGUS = st.just(1)


def settings_map(
    first: dict[str, st.SearchStrategy[Any]], extra: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """``first``, VAULT_ADDR (mostly), an auth method and a role (half the time each), and up
    to two other settings (values from ``extra`` or `SETTINGS`)."""
    others = st.lists(st.sampled_from([*OTHER_SETTINGS, "BOGUS"]), unique=True, max_size=2)
    return merged(
        *[value.map(lambda v, k=key: {k: v}) for key, value in first.items()],
        st.sampled_from(range(5)).flatmap(
            lambda i: st.just({}) if i == 4 else ADDRESSES.map(lambda a: {names.VAULT_ADDR: a})
        ),
        maybe(names.VAULT_AUTH_METHOD, METHODS),
        maybe(names.VAULT_AUTH_KUBERNETES_ROLE, SETTINGS),
        others.flatmap(
            lambda keys: st.fixed_dictionaries({k: extra.get(k, SETTINGS) for k in keys})
        ),
    )


TLS_SECRETS = st.one_of(
    SECRET_NAMES,
    merged(SECRET_NAMES.map(lambda n: {"name": n}), maybe("keys", KEYS), rarely("bogus", BOGUS)),
)
SECRET_SHAPE = merged(
    SECRET_NAMES.map(lambda n: {"secret": n}),
    maybe("tlsSecret", TLS_SECRETS),
    rarely("tokenSecret", SECRET_NAMES),
)
VALUES_SHAPE = merged(
    mostly([0], [1]).flatmap(
        lambda i: (
            st.just({"values": "x"}) if i else settings_map({}, {}).map(lambda v: {"values": v})
        )
    ),
    maybe("tokenSecret", SECRET_NAMES),
    maybe("tlsSecret", TLS_SECRETS),
    rarely("secret", SECRET_NAMES),
)
KMS_DETAILS = settings_map(
    {connections.KMS_PROVIDER: mostly(["vault"], ["ibm", ""])},
    {key: TLS_SECRET_SETTINGS for key in connections.TLS_SETTINGS},
)
KMS_SHAPE = merged(
    merged(
        KMS_DETAILS.map(lambda d: {"connectionDetails": d}),
        maybe("tokenSecretName", SECRET_NAMES),
        rarely("bogus", BOGUS),
    ).map(lambda k: {"kms": k}),
    rarely("tlsSecret", TLS_SECRETS),
    rarely("values", st.just({names.VAULT_ADDR: "https://v"})),
)
CONNECTIONS = merged(
    st.one_of(SECRET_SHAPE, VALUES_SHAPE, KMS_SHAPE, KMS_SHAPE), rarely("bogus", BOGUS)
)
PROFILES = merged(
    st.fixed_dictionaries(
        {
            "name": mostly(["rook", "a" * 63], ["a" * 64, "Rook", "-a", 5]),
            "type": mostly(list(c.PROFILE_TYPES), ["bogus"]),
            "connection": CONNECTIONS,
        }
    ),
    rarely("bogus", BOGUS),
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=PROFILES)
def test_the_schema_accepts_a_profile_exactly_when_the_parser_does(profile: dict[str, Any]) -> None:
    in_schema = schema_accepts({"profiles": [profile]})
    assert in_schema == parser_accepts({"profiles": [profile]}), (
        f"the schema {'accepts' if in_schema else 'refuses'} what the parser "
        f"{'refuses' if in_schema else 'accepts'}: {profile}"
    )


def _mount_paths() -> list[str]:
    """Every path the injector reserves, each of its parents, a child, a sibling; and others."""
    found = {c.DEFAULT_KEY_MOUNT_PATH, "/keys", "/", "keys", "/a:b", "//", "/a b"}
    for reserved, _ in parser.RESERVED_MOUNT_PATHS:
        found |= {reserved, reserved + "/", reserved + "/x", reserved + "x", reserved + "-x/y"}
        parent = posixpath.dirname(reserved)
        while parent != "/":
            found |= {parent, parent + "/", parent + "/other"}
            parent = posixpath.dirname(parent)
    return sorted(found)


@pytest.mark.parametrize("path", _mount_paths())
def test_the_schema_accepts_a_key_mount_path_exactly_when_the_parser_does(path: str) -> None:
    key_volume = {"sizeLimit": "1Mi", "mountPath": path}
    assert schema_accepts({"keyVolume": key_volume}) == parser_accepts({"keyVolume": key_volume})


@pytest.mark.parametrize("path", ["/a/./b", "/a/../etc/vault-storage-injector/tls", "/a/.keys"])
def test_the_schema_refuses_dot_segments_that_the_parser_would_normalise(path: str) -> None:
    """Stricter on purpose: a path that only means what it says after normalising is refused."""
    assert not schema_accepts({"keyVolume": {"mountPath": path}})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (field, value)
        for field, pool in (
            ("runAsUser", [1, 65532, 2**31 - 1, 0, -1, 2**31, True, "5", 1.5]),
            ("resources", [{"requests": {"cpu": "1.5", "memory": 64}}, {"limits": {"gpu": "1"}}]),
            ("resources", [{"requests": {"memory": "1e3"}}, {"requests": {"cpu": "-1"}}]),
        )
        for value in pool
    ],
)
def test_the_schema_accepts_an_injector_setting_exactly_when_the_parser_does(
    field: str, value: Any
) -> None:
    assert schema_accepts({"injector": {field: value}}) == parser_accepts(
        {"injector": {field: value}}
    ), value


@pytest.mark.parametrize("size", ["1Mi", "2.5Gi", "512k", 1024, "1e3", "-1Mi", "", True, 0.5])
def test_the_schema_accepts_a_key_volume_size_exactly_when_the_parser_does(size: Any) -> None:
    key_volume = {"sizeLimit": size}
    assert schema_accepts({"keyVolume": key_volume}) == parser_accepts({"keyVolume": key_volume})


# --- good profiles render and load; bad ones are refused at install and by the parser ----------

GOOD_PROFILES = [
    {"name": "px", "type": "portworx", "connection": {"secret": "px-vault", "tlsSecret": "px-tls"}},
    {"name": "pxo", "type": "portworx-operator", "connection": {"secret": "px-vault"}},
    {
        "name": "rook",
        "type": "rook-osd",
        "connection": {
            "values": {
                "VAULT_ADDR": "https://vault.vault.svc:8200",
                "VAULT_BACKEND_PATH": "rook",
                "VAULT_AUTH_METHOD": "kubernetes",
                "VAULT_AUTH_KUBERNETES_ROLE": "rook-ceph-osd",
            },
            "tlsSecret": {"name": "vault-tls", "keys": ["ca.crt", "tls.crt", "tls.key"]},
        },
    },
    {
        "name": "rook-kms",
        "type": "rook-kms",
        "connection": {
            "kms": {
                "connectionDetails": {
                    "KMS_PROVIDER": "vault",
                    "VAULT_ADDR": "https://vault.default.svc.cluster.local:8200",
                    "VAULT_BACKEND_PATH": "rook",
                    "VAULT_CACERT": "vault-tls-ca-certificate",
                    "VAULT_CLIENT_CERT": "vault-client-cert",
                    "VAULT_CLIENT_KEY": "vault-client-key",
                },
                "tokenSecretName": "rook-vault-token",
            }
        },
    },
    {
        "name": "keys",
        "type": "volume-keys",
        "connection": {"values": {"VAULT_ADDR": "http://bao:8200"}, "tokenSecret": "bao-token"},
    },
]


def test_good_profiles_render_into_a_config_map_the_webhook_loads() -> None:
    values = {"profiles": GOOD_PROFILES, "builtinProfiles": False}
    assert schema_accepts(values)
    for binary in HELMS:
        config_map = find(render(values, binary=binary), "ConfigMap")
        config = parser.parse_config(config_map["data"]["config.yaml"], source="config.yaml")
        assert [p.name for p in config.profiles] == [p["name"] for p in GOOD_PROFILES]
        assert {p.type for p in config.profiles} == set(c.PROFILE_TYPES)


def _values_profile(**values: Any) -> dict[str, Any]:
    return {"name": "p", "type": "rook-osd", "connection": {"values": values}}


ADDR = "https://vault:8200"
BAD_PROFILES: dict[str, tuple[dict[str, Any], str]] = {
    "unknown type": (
        {"name": "p", "type": "rook-kmz", "connection": {"secret": "s"}},
        "profiles.0.type",
    ),
    "unknown profile field": (
        {"name": "p", "type": "rook-osd", "connection": {"secret": "s"}, "namespace": "x"},
        "profiles.0.namespace",
    ),
    "name not a DNS label": (
        {"name": "Rook_OSD", "type": "rook-osd", "connection": {"secret": "s"}},
        "profiles.0.name",
    ),
    "misspelt connection field": (
        {"name": "p", "type": "rook-osd", "connection": {"secrett": "s"}},
        "profiles.0.connection.secrett",
    ),
    "secret and values": (
        {"name": "p", "type": "rook-osd", "connection": {"secret": "s", "values": {}}},
        "profiles.0.connection",
    ),
    "kms with a tlsSecret": (
        {
            "name": "p",
            "type": "rook-kms",
            "connection": {
                "kms": {"connectionDetails": {"KMS_PROVIDER": "vault", "VAULT_ADDR": ADDR}},
                "tlsSecret": "t",
            },
        },
        "profiles.0.connection",
    ),
    "a credential in values": (
        _values_profile(VAULT_ADDR=ADDR, VAULT_TOKEN="s.123"),
        "profiles.0.connection.values.VAULT_TOKEN",
    ),
    "no VAULT_ADDR": (
        _values_profile(VAULT_AUTH_METHOD="kubernetes", VAULT_AUTH_KUBERNETES_ROLE="r"),
        "profiles.0.connection.values",
    ),
    "VAULT_ADDR not a URL": (
        _values_profile(VAULT_ADDR="vault:8200", VAULT_AUTH_METHOD="kubernetes"),
        "profiles.0.connection.values.VAULT_ADDR",
    ),
    "kubernetes auth without a role": (
        _values_profile(VAULT_ADDR=ADDR, VAULT_AUTH_METHOD="kubernetes"),
        "profiles.0.connection.values",
    ),
    "approle in values": (
        _values_profile(VAULT_ADDR=ADDR, VAULT_AUTH_METHOD="approle"),
        "profiles.0.connection.values.VAULT_AUTH_METHOD",
    ),
    "a wrong type of setting": (
        _values_profile(
            VAULT_ADDR=ADDR, VAULT_AUTH_METHOD="kubernetes", VAULT_AUTH_KUBERNETES_ROLE=True
        ),
        "profiles.0.connection.values.VAULT_AUTH_KUBERNETES_ROLE",
    ),
    "a client certificate without its key": (
        {
            "name": "p",
            "type": "rook-osd",
            "connection": {"secret": "s", "tlsSecret": {"name": "t", "keys": ["tls.crt"]}},
        },
        "profiles.0.connection.tlsSecret",
    ),
    "Rook's VAULT_CAPATH": (
        {
            "name": "p",
            "type": "rook-kms",
            "connection": {
                "kms": {
                    "connectionDetails": {
                        "KMS_PROVIDER": "vault",
                        "VAULT_ADDR": ADDR,
                        "VAULT_CAPATH": "/x",
                    },
                    "tokenSecretName": "tok",
                }
            },
        },
        "profiles.0.connection.kms.connectionDetails.VAULT_CAPATH",
    ),
    "another KMS provider": (
        {
            "name": "p",
            "type": "rook-kms",
            "connection": {
                "kms": {
                    "connectionDetails": {"KMS_PROVIDER": "ibmkeyprotect", "VAULT_ADDR": ADDR},
                    "tokenSecretName": "tok",
                }
            },
        },
        "profiles.0.connection.kms.connectionDetails.KMS_PROVIDER",
    ),
}


@pytest.mark.parametrize("case", BAD_PROFILES)
def test_a_bad_profile_is_refused_by_the_parser(case: str) -> None:
    profile, _ = BAD_PROFILES[case]
    assert not parser_accepts({"profiles": [profile]})
    assert not schema_accepts({"profiles": [profile]})


@pytest.mark.parametrize("binary", HELMS)
@pytest.mark.parametrize("case", BAD_PROFILES)
def test_a_bad_profile_fails_helm_template_naming_the_key(case: str, binary: str) -> None:
    profile, path = BAD_PROFILES[case]
    message = refused({"profiles": [profile]}, binary=binary)
    assert key_named(message, path), message


@pytest.mark.parametrize("binary", HELMS)
def test_two_profiles_of_one_name_fail_helm_template(binary: str) -> None:
    profile = {"name": "rook", "type": "rook-osd", "connection": {"secret": "s"}}
    assert not parser_accepts({"profiles": [profile, profile]})
    message = refused({"profiles": [profile, profile]}, binary=binary)
    assert 'profiles[1].name: duplicate profile "rook"' in message

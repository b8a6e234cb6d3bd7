"""The chart's profile schema is generated from the parser's declaration, and both refuse alike.

`webhook.core.config.PROFILES_FILE` declares the profiles file; the parser reads by it and
``python -m tools.profile_schema`` writes it into values.schema.json (under ``$defs``). Here:

- the checked-in schema is what the generator writes now, and the generator leaves the
  hand-written rest of the file byte for byte;
- for each kind of error (an unknown or refused field, a wrong type, a bad enum, a bad pattern,
  out of range, an item twice, a missing required field, a rule of the connection's kind, a rule
  of the profile's type), a few cases are refused by the parser naming the field and by Helm 4
  and Helm 3 (``helm template`` and ``helm lint``) naming the key; good values pass both and
  render into a ConfigMap the parser loads; where the schema is stricter on purpose, it says so.
  Each table is one assertion that lists every miss. Helm reports every schema error of a values
  file at once, so a table costs one run per binary.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.charts.conftest import CHART, HELMS, find, helm, key_named, refused, render
from tools import profile_schema
from webhook.core import config
from webhook.core import constants as c
from webhook.core.fields import TOP, FieldReader, Node
from webhook.core.mappings import Field, ListOf, Record
from webhook.core.profiles import Config
from webhook.errors import ConfigError

SCHEMA_TEXT = (CHART / "values.schema.json").read_text()
VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())


def parse(data: dict[str, Any], declaration: Record | None = None) -> Config | str:
    """The profiles file ``data`` as the webhook parses it (or by another ``declaration``), or
    the parser's one-line error."""
    text = yaml.safe_dump(data)
    try:
        if declaration is None:
            return config.parse_config(text, source="config.yaml")
        result: Config = declaration.read(FieldReader("config.yaml"), yaml.safe_load(text), TOP)
    except ConfigError as exc:
        return str(exc)
    return result


# --- the generated copy ---------------------------------------------------------------------------


def test_the_generated_profile_schema_is_current() -> None:
    assert profile_schema.expected_text(SCHEMA_TEXT) == SCHEMA_TEXT, (
        "charts/vault-storage-injector/values.schema.json is stale: "
        "run python -m tools.profile_schema"
    )
    assert profile_schema.main(["--check"]) == 0


def test_the_generator_rewrites_only_its_part_and_keeps_hand_edits_byte_for_byte(
    tmp_path: Path,
) -> None:
    head, key, _ = SCHEMA_TEXT.rpartition('"$defs": ')
    assert key, "values.schema.json has no generated part"
    # A hand edit in another style than the generator's, and a stale generated part.
    edited = head.replace('"minimum": 1,\n', '"minimum":   1 ,\n', 1)
    assert edited != head
    stale = json.loads(SCHEMA_TEXT)["$defs"]
    del stale["profile"]
    text = f"{edited}{key}{json.dumps(stale)}\n}}\n"
    path = tmp_path / "values.schema.json"
    path.write_text(text)
    assert profile_schema.main(["--check"], path=path) == 1
    assert profile_schema.main([], path=path) == 0
    rewritten = path.read_text()
    assert rewritten.startswith(edited)
    assert json.loads(rewritten)["$defs"] == json.loads(SCHEMA_TEXT)["$defs"]
    # Without a generated part, it is appended.
    without = {k: v for k, v in json.loads(SCHEMA_TEXT).items() if k != "$defs"}
    plain = json.dumps(without, indent=2) + "\n"
    assert json.loads(profile_schema.expected_text(plain)) == json.loads(SCHEMA_TEXT)


def test_the_generator_refuses_a_hand_written_part_that_does_not_refer_to_it() -> None:
    document = json.loads(SCHEMA_TEXT)
    document["properties"]["profiles"] = {"type": "array"}
    document["properties"]["secretAccess"]["$ref"] = "#/$defs/nothing"
    with pytest.raises(profile_schema.SchemaFileError) as info:
        profile_schema.expected_text(json.dumps(document, indent=2))
    assert 'properties.profiles must be {"$ref": "#/$defs/profiles"}' in str(info.value)
    assert "#/$defs/nothing is not a generated definition" in str(info.value)
    document = json.loads(SCHEMA_TEXT)
    moved = {"$defs": document.pop("$defs"), **document}
    with pytest.raises(profile_schema.SchemaFileError, match="must be the last top-level key"):
        profile_schema.expected_text(json.dumps(moved))


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


# --- each kind of error, refused by the parser and by Helm ----------------------------------------

ADDR = "https://vault:8200"
KMS_OK = {"KMS_PROVIDER": "vault", "VAULT_ADDR": ADDR}


def conn(connection: Any, profile_type: str = "rook-osd") -> dict[str, Any]:
    return {"name": "p", "type": profile_type, "connection": connection}


def values(settings: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A ``values`` connection with a token Secret (so that only ``settings`` can be wrong)."""
    return conn({"values": {"VAULT_ADDR": ADDR, **settings}, "tokenSecret": "t", **more})


def kms(details: dict[str, Any], **more: Any) -> dict[str, Any]:
    block = {"connectionDetails": {**KMS_OK, **details}, "tokenSecretName": "t"}
    return conn({"kms": block, **more}, "rook-kms")


PROFILE_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # (kind, profile, the field the parser names, the key Helm names; both under profiles[i])
    ("unknown field", {**conn({"secret": "s"}), "namespace": "x"}, "namespace", "namespace"),
    ("unknown field", conn({"secrett": "s"}), "connection.secrett", "connection.secrett"),
    ("unknown field", values({"VAULT_ADRR": "x"}), *["connection.values.VAULT_ADRR"] * 2),
    ("unknown field", kms({"IBM_KP_X": "x"}), *["connection.kms.connectionDetails.IBM_KP_X"] * 2),
    ("refused field", values({"VAULT_TOKEN": "s.1"}), *["connection.values.VAULT_TOKEN"] * 2),
    (
        "refused field",
        kms({"VAULT_CAPATH": "/x"}),
        *["connection.kms.connectionDetails.VAULT_CAPATH"] * 2,
    ),
    ("wrong type", {**conn({"secret": "s"}), "name": 5}, "name", "name"),
    ("wrong type", conn({"values": "x", "tokenSecret": "t"}), *["connection.values"] * 2),
    (
        "wrong type",
        values({"VAULT_SKIP_VERIFY": True}),
        *["connection.values.VAULT_SKIP_VERIFY"] * 2,
    ),
    ("wrong type", conn({"secret": "s", "tlsSecret": ["t"]}), *["connection.tlsSecret"] * 2),
    # issue 22, 6: insecure only with allowInsecure (Helm names the connection lacking it)
    (
        "insecure",
        values({"VAULT_SKIP_VERIFY": "T"}),
        "connection.values.VAULT_SKIP_VERIFY",
        "connection",
    ),
    (
        "insecure",
        kms({"VAULT_ADDR": "http://v:8200"}),
        "connection.kms.connectionDetails.VAULT_ADDR",
        "connection",
    ),
    ("wrong type", conn(["secret"]), "connection", "connection"),
    ("wrong type", conn(None), "connection", "connection"),
    ("bad enum", conn({"secret": "s"}, "ceph"), "type", "type"),
    (
        "bad enum",
        values({"VAULT_AUTH_METHOD": "ldap"}),
        *["connection.values.VAULT_AUTH_METHOD"] * 2,
    ),
    (
        "bad enum",
        values({"VAULT_AUTH_METHOD": "approle"}),
        *["connection.values.VAULT_AUTH_METHOD"] * 2,
    ),
    (
        "bad enum",
        kms({"KMS_PROVIDER": "kmip"}),
        *["connection.kms.connectionDetails.KMS_PROVIDER"] * 2,
    ),
    (
        "bad enum",
        conn({"secret": "s", "tlsSecret": {"name": "t", "keys": ["ca.pem"]}}),
        "connection.tlsSecret.keys",
        "connection.tlsSecret",
    ),
    ("bad pattern", {**conn({"secret": "s"}), "name": "Rook_OSD"}, "name", "name"),
    ("bad pattern", {**conn({"secret": "s"}), "name": "a" * 64}, "name", "name"),
    ("bad pattern", conn({"secret": "a..b"}), "connection.secret", "connection.secret"),
    ("bad pattern", values({"VAULT_ADDR": "vault:8200"}), *["connection.values.VAULT_ADDR"] * 2),
    (
        "bad pattern",
        kms({"VAULT_CACERT": "/etc/ssl/ca.pem"}),
        *["connection.kms.connectionDetails.VAULT_CACERT"] * 2,
    ),
    (
        "bad pattern",
        values({"VAULT_BACKEND_PATH": " "}),
        *["connection.values.VAULT_BACKEND_PATH"] * 2,
    ),
    (
        "repeated item",
        conn({"secret": "s", "tlsSecret": {"name": "t", "keys": ["ca.crt", "ca.crt"]}}),
        "connection.tlsSecret.keys",
        "connection.tlsSecret",
    ),
    ("missing required", {"name": "p", "type": "rook-osd"}, "connection", ""),
    (
        "missing required",
        conn({"values": {"VAULT_AUTH_METHOD": "kubernetes", "VAULT_AUTH_KUBERNETES_ROLE": "r"}}),
        "connection.values.VAULT_ADDR",
        "connection.values",
    ),
    (
        "missing required",
        conn({"kms": {"connectionDetails": {"VAULT_ADDR": ADDR}, "tokenSecretName": "t"}}),
        "connection.kms.connectionDetails.KMS_PROVIDER",
        "connection.kms.connectionDetails",
    ),
    (
        "missing required",
        conn({"kms": {"tokenSecretName": "t"}}),
        "connection.kms.connectionDetails",
        "connection.kms",
    ),
    (
        "missing required",
        conn({"secret": "s", "tlsSecret": {"keys": ["ca.crt"]}}),
        "connection.tlsSecret.name",
        "connection.tlsSecret",
    ),
    ("kind rule", conn({}), "connection", "connection"),
    (
        "kind rule",
        conn({"secret": "s", "values": {"VAULT_ADDR": ADDR}}),
        "connection",
        "connection",
    ),
    (
        "kind rule",
        conn({"secret": "s", "tokenSecret": "t"}),
        "connection.tokenSecret",
        "connection",
    ),
    ("kind rule", kms({}, tlsSecret="t"), "connection.tlsSecret", "connection"),
    (
        "kind rule",
        values({"VAULT_CAPATH": "/etc/ssl"}, tlsSecret="t"),
        "connection.values.VAULT_CAPATH",
        "connection",  # Helm 4 names the key's own path '' (a propertyNames error)
    ),
    ("kind rule", conn({"values": {"VAULT_ADDR": ADDR}}), "connection", "connection"),
    (
        "kind rule",
        conn({"values": {"VAULT_ADDR": ADDR, "VAULT_AUTH_METHOD": "token"}}),
        "connection.values.VAULT_AUTH_METHOD",
        "connection",
    ),
    (
        "kind rule",
        conn({"values": {"VAULT_ADDR": ADDR, "VAULT_AUTH_METHOD": "kubernetes"}}),
        "connection.values.VAULT_AUTH_KUBERNETES_ROLE",
        "connection.values",
    ),
    (
        "kind rule",
        conn({"kms": {"connectionDetails": KMS_OK}}),
        "connection.kms",
        "connection.kms",
    ),
    (
        "kind rule",
        kms({"VAULT_CLIENT_CERT": "c"}),
        "connection.kms.connectionDetails.VAULT_CLIENT_KEY",
        "connection.kms.connectionDetails",
    ),
    (
        "kind rule",
        conn({"secret": "s", "tlsSecret": {"name": "t", "keys": ["ca.crt", "tls.crt"]}}),
        "connection.tlsSecret.keys",
        "connection.tlsSecret",
    ),
    # VAULT_* values by the rules the injector applies too (vsi_common.vault_values)
    (
        "bad enum",
        values({"VAULT_SECRET_ENGINE": "foo"}),
        *["connection.values.VAULT_SECRET_ENGINE"] * 2,
    ),
    (
        "bad enum",
        kms({"VAULT_SECRET_ENGINE": "transit"}),
        *["connection.kms.connectionDetails.VAULT_SECRET_ENGINE"] * 2,
    ),
    ("bad enum", values({"VAULT_BACKEND": "v3"}), *["connection.values.VAULT_BACKEND"] * 2),
    (
        "bad pattern",
        values({"VAULT_SKIP_VERIFY": "maybe"}),
        *["connection.values.VAULT_SKIP_VERIFY"] * 2,
    ),
    (
        "bad pattern",
        kms({"VAULT_CLIENT_TIMEOUT": "soon"}),
        *["connection.kms.connectionDetails.VAULT_CLIENT_TIMEOUT"] * 2,
    ),
    (
        "bad pattern",
        values({"VAULT_ADDR": "https://vault:65536"}),
        *["connection.values.VAULT_ADDR"] * 2,
    ),
    ("wrong type", values({"VAULT_MAX_RETRIES": 3}), *["connection.values.VAULT_MAX_RETRIES"] * 2),
    (
        "type rule",
        conn(
            {"values": {"VAULT_ADDR": ADDR, "VAULT_BACKEND": "v2"}, "tokenSecret": "t"}, "portworx"
        ),
        *["connection.values.VAULT_BACKEND"] * 2,
    ),
    (
        "type rule",
        values({"VAULT_BASE_PATH": "portworx"}),
        "connection.values.VAULT_BASE_PATH",
        "connection.values",
    ),
    (
        "type rule",
        conn({"secret": "px-vault", "secretNamespace": "px"}),
        "connection.secretNamespace",
        "connection",
    ),
    (
        "kind rule",
        conn({"secret": "pxv", "secretNamespace": "px"}, "portworx"),
        "connection.secretNamespace",
        "connection.secret",
    ),
]
"""Profiles with one mistake each; Helm names the key, or the mapping a rule is about."""

TOP_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    # (kind, chart values, the same in the profiles file, the field the parser names, Helm's key)
    ("unknown field", {"keyVolume": {"size": "1Mi"}}, {}, "keyVolume.size", "keyVolume.size"),
    (
        "unknown field",
        {"injector": {"resources": {"limits": {"gpu": "1"}}}},
        {},
        *["injector.resources.limits.gpu"] * 2,
    ),
    ("wrong type", {"builtinProfiles": "yes"}, {}, "builtinProfiles", "builtinProfiles"),
    ("wrong type", {"keyVolume": {"sizeLimit": [1]}}, {}, *["keyVolume.sizeLimit"] * 2),
    (
        "bad enum",
        {"image": {"pullPolicy": "Sometimes"}},
        {"injector": {"imagePullPolicy": "Sometimes"}},
        "injector.imagePullPolicy",
        "image.pullPolicy",
    ),
    (
        "bad pattern",
        {"keyVolume": {"mountPath": "/run/cryptsetup/x"}},
        {},
        *["keyVolume.mountPath"] * 2,
    ),
    (
        "bad pattern",
        {"injector": {"resources": {"requests": {"cpu": "lots"}}}},
        {},
        *["injector.resources.requests.cpu"] * 2,
    ),
    ("out of range", {"injector": {"runAsUser": 0}}, {}, *["injector.runAsUser"] * 2),
]
"""Other fields of the profiles file with one mistake each (the profiles file takes the chart's
values as they are, but for ``image.*``)."""


def merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One values document holding every part (no two parts may set the same leaf)."""
    out: dict[str, Any] = {}
    for part in parts:
        stack = [(out, part)]
        while stack:
            into, more = stack.pop()
            for key, value in more.items():
                if isinstance(value, dict) and isinstance(into.get(key), dict):
                    stack.append((into[key], value))
                else:
                    assert key not in into, f"two cases set {key}"
                    into[key] = copy.deepcopy(value)
    return out


def said_by_parser(data: dict[str, Any]) -> str:
    found = parse(data)
    return found if isinstance(found, str) else "nothing: it accepted the file"


def parser_misses() -> list[str]:
    misses = []
    for number, (kind, profile, field, _) in enumerate(PROFILE_CASES):
        said = said_by_parser({"profiles": [profile]})
        if not said.startswith(f"config.yaml: profiles[0].{field}: ") or "\n" in said:
            misses.append(f"profile case {number} ({kind}, {field}): the parser said {said}")
    for kind, chart, file, field, _ in TOP_CASES:
        said = said_by_parser(file or chart)
        if not said.startswith(f"config.yaml: {field}: ") or "\n" in said:
            misses.append(f"{kind} {field}: the parser said {said}")
    return misses


def helm_misses(binary: str, command: str) -> list[str]:
    bad = merged([{"profiles": [p for _, p, _, _ in PROFILE_CASES]}, *(t[1] for t in TOP_CASES)])
    if command == "template":
        message = refused(bad, binary=binary)
    else:
        result = helm("lint", str(CHART), *_set_json(bad), binary=binary)
        assert result.returncode != 0, f"{binary} lint passed values it must refuse"
        message = result.stdout + result.stderr
    misses = []
    for index, (kind, _, _, key) in enumerate(PROFILE_CASES):
        path = f"profiles.{index}" + (f".{key}" if key else "")
        if not key_named(message, path):
            misses.append(f"{binary} {command}: {kind}: does not name {path}")
    for kind, _, _, _, key in TOP_CASES:
        if not key_named(message, key):
            misses.append(f"{binary} {command}: {kind}: does not name {key}")
    return misses


def _set_json(data: dict[str, Any]) -> list[str]:
    return [
        arg for key, value in data.items() for arg in ("--set-json", f"{key}={json.dumps(value)}")
    ]


def test_every_kind_of_mistake_is_refused_by_the_parser_naming_the_field() -> None:
    misses = parser_misses()
    assert not misses, "\n".join(misses)


@pytest.mark.parametrize("command", ["template", "lint"])
@pytest.mark.parametrize("binary", HELMS)
def test_every_kind_of_mistake_is_refused_by_helm_naming_the_key(binary: str, command: str) -> None:
    misses = helm_misses(binary, command)
    assert not misses, "\n".join(misses)


# --- good values render into a ConfigMap the parser loads -----------------------------------------

GOOD_PROFILES = [
    conn({"secret": "px-vault", "tlsSecret": "px-tls"}, "portworx") | {"name": "px"},
    conn({"secret": "px-vault"}, "portworx-operator") | {"name": "a" * 63},
    {
        "name": "rook",
        "type": "rook-osd",
        "connection": {
            "values": {
                "VAULT_ADDR": "https://vault.vault.svc:8200",
                "VAULT_BACKEND_PATH": 5,
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
                    **KMS_OK,
                    "VAULT_CACERT": 7,
                    "VAULT_CLIENT_CERT": "vault-client-cert",
                    "VAULT_CLIENT_KEY": "vault-client-key",
                    "VAULT_AUTH_METHOD": "kubernetes",
                    "VAULT_AUTH_KUBERNETES_ROLE": "rook-ceph",
                },
            }
        },
    },
    {
        "name": "keys",
        "type": "volume-keys",
        "connection": {
            "values": {"VAULT_ADDR": "http://bao:8200"},
            "tokenSecret": "bao-token",
            "allowInsecure": True,
        },
    },
]
GOOD_VALUES = {
    "profiles": GOOD_PROFILES,
    "builtinProfiles": False,
    "keyVolume": {"sizeLimit": 2048, "mountPath": f"{c.TLS_MOUNT_PATH}-keys/"},
    "injector": {"runAsUser": 2**31 - 1, "resources": {"limits": {"memory": 64, "cpu": "1.5"}}},
    "image": {"pullPolicy": "Always"},
}


@pytest.mark.parametrize("binary", HELMS)
def test_good_values_pass_helm_and_render_a_config_map_the_webhook_loads(binary: str) -> None:
    lint = helm("lint", "--strict", str(CHART), *_set_json(GOOD_VALUES), binary=binary)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    config_map = find(render(GOOD_VALUES, binary=binary), "ConfigMap")
    loaded = config.parse_config(config_map["data"]["config.yaml"], source="config.yaml")
    assert [p.name for p in loaded.profiles] == [p["name"] for p in GOOD_PROFILES]
    assert {p.type for p in loaded.profiles} == set(c.PROFILE_TYPES)
    assert loaded.key_volume.mount_path == f"{c.TLS_MOUNT_PATH}-keys"
    assert loaded.injector.image_pull_policy == "Always"


@pytest.mark.parametrize("binary", HELMS)
def test_two_profiles_of_one_name_fail_helm_template(binary: str) -> None:
    """Draft-07 cannot say "unique by name": the chart's template does, as the parser."""
    profile = conn({"secret": "s"})
    assert parse({"profiles": [profile, profile]}) == (
        "config.yaml: profiles[1].name: duplicate profile 'p'"
    )
    message = refused({"profiles": [profile, profile]}, binary=binary)
    assert 'profiles[1].name: duplicate profile "p"' in message


STRICTER: list[tuple[str, dict[str, Any], str]] = [
    ("blanks around a Secret name", conn({"secret": " px-vault "}), "connection.secret"),
    (
        "an auth method in capitals",
        values({"VAULT_AUTH_METHOD": "Token"}),
        "connection.values.VAULT_AUTH_METHOD",
    ),
]
"""Where the schema is stricter on purpose: the parser forgives what a hand-edited file may hold
(it trims, folds case, normalises a path), the chart refuses it at install."""
STRICTER_KEY_PATHS = ["/a/./keys", "/a/../keys", "/a/.keys", "//keys"]


@pytest.mark.parametrize("binary", HELMS)
def test_where_the_schema_is_stricter_on_purpose(binary: str) -> None:
    misses = []
    message = refused({"profiles": [profile for _, profile, _ in STRICTER]}, binary=binary)
    for number, (what, profile, key) in enumerate(STRICTER):
        if isinstance(parse({"profiles": [profile]}), str):
            misses.append(f"the parser refuses {what}")
        if not key_named(message, f"profiles.{number}.{key}"):
            misses.append(f"{binary} accepts {what}")
    for path in STRICTER_KEY_PATHS:
        if isinstance(parse({"keyVolume": {"mountPath": path}}), str):
            misses.append(f"the parser refuses keyVolume.mountPath {path}")
        if not key_named(
            refused({"keyVolume": {"mountPath": path}}, binary=binary), "keyVolume.mountPath"
        ):
            misses.append(f"{binary} accepts keyVolume.mountPath {path}")
    assert not misses, "\n".join(misses)


# --- a rule of the profile's type ---------------------------------------------------------------


def limited(node: Node, path: tuple[str, ...], types: tuple[str, ...]) -> Any:
    """``node`` with the field at ``path`` declared for ``types`` only."""
    if isinstance(node, ListOf):
        return replace(node, item=limited(node.item, path, types))
    assert isinstance(node, Record)
    name, *rest = path

    def changed(declared: Field) -> Field:
        if declared.name != name:
            return declared
        if not rest:
            return replace(declared, types=types)
        return replace(declared, node=limited(declared.node, tuple(rest), types))

    return replace(node, fields=tuple(changed(f) for f in node.fields))


ROOK_ONLY = ("rook-osd", "rook-kms")
VARIANT: Record = limited(config.PROFILES_FILE, ("profiles", "connection", "kms"), ROOK_ONLY)
"""The profiles file as it would be if Rook's kms block were declared for Rook's types only: no
field is limited to some types today, and the next ones will be (connection.secretNamespace)."""


@pytest.fixture(scope="module")
def variant_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chart = tmp_path_factory.mktemp("variant") / "chart"
    shutil.copytree(CHART, chart)
    schema = chart / "values.schema.json"
    schema.write_text(profile_schema.expected_text(schema.read_text(), VARIANT))
    return chart


@pytest.mark.parametrize("binary", HELMS)
def test_a_field_declared_for_some_types_is_refused_with_the_others(
    binary: str, variant_chart: Path
) -> None:
    block = {"connectionDetails": KMS_OK, "tokenSecretName": "t"}
    portworx, rook = conn({"kms": block}, "portworx"), conn({"kms": block}, "rook-kms")
    assert isinstance(parse({"profiles": [portworx]}), Config), "no type limits kms today"
    assert parse({"profiles": [portworx]}, VARIANT) == (
        "config.yaml: profiles[0].connection.kms: only allowed with type rook-osd or rook-kms"
    )
    assert isinstance(parse({"profiles": [rook]}, VARIANT), Config)
    message = refused({"profiles": [rook, portworx]}, binary=binary, chart=variant_chart)
    assert key_named(message, "profiles.1.connection"), message
    assert not key_named(message, "profiles.0.connection"), message
    render({"profiles": [rook]}, binary=binary, chart=variant_chart)

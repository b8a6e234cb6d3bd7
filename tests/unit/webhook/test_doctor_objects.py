"""The doctor's namespace, Secret and object checks: the webhook's own answers, reported.

The Secret fixes are built from the text of `secret_warnings`; these tests hold the patterns the
doctor reads to what that function really says.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import pytest

from tests.unit.webhook.support import GOLDEN
from webhook.core import constants as c
from webhook.core.config import parse_config
from webhook.core.model import AdmissionContext, SecretInfo
from webhook.core.mutation import build_mutator
from webhook.core.profiles import default_config
from webhook.core.registry import BY_KIND
from webhook.core.warnings import secret_warnings
from webhook.doctor import namespaces, workloads
from webhook.doctor.state import (
    KINDS,
    POD,
    ClusterState,
    Failed,
    InstallState,
    Locations,
    NamespaceInfo,
    SecretData,
    Unlisted,
    Workload,
)

LOC = Locations()
NS = "rook-ceph"
CONFIG = default_config()
ROOK_KEYS = {"VAULT_ADDR": b"a", "VAULT_AUTH_METHOD": b"k", "VAULT_AUTH_KUBERNETES_ROLE": b"r"}


def _osd(name: str = "osd-0") -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(
        (GOLDEN / "rook-osd-secret-seed" / "request.json").read_text()
    )["request"]["object"]
    obj["metadata"]["name"] = name
    return obj


def _injected(obj: dict[str, Any]) -> dict[str, Any]:
    ctx = AdmissionContext("CREATE", NS, "", "v1", "Pod", assume_namespace_enabled=True)
    result = build_mutator(CONFIG)(obj, ctx)
    patched: dict[str, Any] = jsonpatch.apply_patch(obj, list(result.ops))
    return patched


def _state(
    *objs: dict[str, Any],
    labels: dict[str, str] | None = None,
    requested: bool = False,
    secrets: dict[tuple[str, str], Any] | None = None,
    unlisted: tuple[Unlisted, ...] = (),
) -> ClusterState:
    info = NamespaceInfo(NS, {c.LABEL_ENABLED: "true"} if labels is None else labels, requested)
    install = InstallState(None, None, None, (), None)
    found = (
        {(NS, "rook-vault"): SecretData("rook-vault", ROOK_KEYS)} if secrets is None else secrets
    )
    return ClusterState(
        LOC, install, (info,), tuple(Workload(POD, o) for o in objs), unlisted, found
    )


def _judged(state: ClusterState) -> list[workloads.Judged]:
    view = namespaces.view_of(state)
    return workloads.judge(build_mutator(CONFIG), state.workloads, LOC, view)


def test_the_doctor_lists_every_kind_the_mutation_handles() -> None:
    assert {(k.group, k.kind) for k in KINDS} == set(BY_KIND)


def test_an_injected_pod_is_counted_and_an_old_one_is_named() -> None:
    state = _state(_injected(_osd("osd-0")), _osd("osd-1"), {"metadata": {"name": "mon"}})

    checks = workloads.objects_checks(NS, _judged(state), (), ["rook-osd"])

    assert [c.name for c in checks] == [f"objects:{NS}", f"object:{NS}/Pod/osd-1"]
    assert checks[0].detail == (
        "2 objects a profile matches: 1 already injected, 1 the webhook would change, 0 left alone"
    )
    assert checks[1].status == "warn"
    assert checks[1].fix.endswith(f"kubectl -n {NS} delete pod osd-1")


def test_an_object_marked_injected_that_would_change_says_the_settings_changed() -> None:
    pod = _osd()
    pod["metadata"]["annotations"] = {c.ANNOTATION_STATUS: c.STATUS_INJECTED}

    (check,) = [workloads.object_check(j, []) for j in _judged(_state(pod))]

    assert check.status == "warn"
    assert "injected with other settings" in check.detail


def test_an_opted_out_osd_is_reported_but_an_opted_out_stranger_is_not() -> None:
    osd, other = _osd(), {"metadata": {"name": "web", "namespace": NS}, "spec": {"containers": []}}
    for obj in (osd, other):
        obj["metadata"]["annotations"] = {c.ANNOTATION_INJECT: "false"}

    judged = _judged(_state(osd, other))

    assert [j.workload.name for j in judged] == ["osd-0"]
    assert workloads.object_check(judged[0], []).status == "ok"
    assert "opted out" in workloads.object_check(judged[0], []).detail


def test_an_unknown_profile_names_the_configured_ones() -> None:
    pod = _osd()
    pod["metadata"]["annotations"] = {c.ANNOTATION_PROFILE: "nope"}

    (judged,) = _judged(_state(pod))
    check = workloads.object_check(judged, ["rook-osd", "volume-keys"])

    assert check.status == "warn"
    assert "configured: rook-osd, volume-keys" in check.fix


def test_a_list_that_failed_is_a_warning_naming_the_rule() -> None:
    failed = Unlisted(POD, None, Failed("pods", "forbidden: cannot list pods", True))

    (check,) = workloads.objects_checks(NS, [], (failed,), [])

    assert check.status == "warn"
    assert check.fix.startswith("give the doctor's service account list on pods")


def test_the_fix_patterns_match_what_secret_warnings_says() -> None:
    profile = CONFIG.profile("rook-osd")
    assert profile is not None
    view = namespaces.view_of(_state(secrets={(NS, "rook-vault"): SecretData("rook-vault", {})}))
    missing = namespaces.view_of(_state(secrets={(NS, "rook-vault"): None}))

    no_key = secret_warnings(profile, NS, view)
    absent = secret_warnings(profile, NS, missing)

    assert [namespaces.NO_KEY.match(w) is not None for w in no_key] == [True] * len(no_key)
    assert namespaces.NOT_FOUND.match(absent[0]) is not None
    tls = parse_config(
        "profiles: [{name: p, type: portworx, connection: {secret: s, tlsSecret: t}}]",
        source="t",
    ).profiles[0]
    half = {(NS, "s"): SecretData("s", {"VAULT_ADDR": b"", "VAULT_TOKEN": b""})}
    half[(NS, "t")] = SecretData("t", {"ca.crt": b"", "tls.crt": b""})
    warnings = secret_warnings(tls, NS, namespaces.view_of(_state(secrets=half)))
    assert any(w.endswith(namespaces.HALF_PAIR) for w in warnings), warnings


@pytest.mark.parametrize(
    ("secrets", "status", "fix"),
    [
        ({(NS, "rook-vault"): SecretData("rook-vault", ROOK_KEYS)}, "ok", ""),
        (
            {(NS, "rook-vault"): None},
            "fail",
            f"create the Secret rook-vault in namespace {NS} (docs/install.md, 2. Connection "
            "Secrets)",
        ),
        (
            {(NS, "rook-vault"): SecretData("rook-vault", {"VAULT_TOKEN": b""})},
            "fail",
            f"add VAULT_ADDR to the Secret rook-vault: kubectl -n {NS} edit secret rook-vault",
        ),
        (
            {(NS, "rook-vault"): Failed("secrets/rook-vault", "forbidden", True)},
            "warn",
            f"give the doctor's service account get on secrets in {NS} (docs/doctor.md, RBAC)",
        ),
    ],
)
def test_the_secrets_of_a_used_profile(
    secrets: dict[tuple[str, str], Any], status: str, fix: str
) -> None:
    state = _state(_injected(_osd()), secrets=secrets)

    checks = namespaces.secret_checks(CONFIG, NS, namespaces.view_of(state), _judged(state))

    assert [c.name for c in checks] == [f"secrets:{NS}/rook-osd"]
    assert (checks[0].status, checks[0].fix) == (status, fix)


def test_an_unused_profile_with_its_secret_half_done_is_only_a_warning() -> None:
    state = _state(secrets={(NS, "rook-vault"): SecretData("rook-vault", {"VAULT_TOKEN": b""})})

    checks = namespaces.secret_checks(CONFIG, NS, namespaces.view_of(state), [])

    assert [(c.name, c.status) for c in checks] == [(f"secrets:{NS}/rook-osd", "warn")]
    assert checks[0].detail.endswith("(no object uses the profile here yet)")


@pytest.mark.parametrize(
    ("labels", "requested", "objects", "status"),
    [
        ({c.LABEL_ENABLED: "true"}, False, False, "ok"),
        ({}, True, False, "fail"),
        ({c.LABEL_ENABLED: "false"}, True, True, "fail"),
        ({}, False, True, "warn"),
        ({}, False, False, None),
    ],
)
def test_namespace(
    labels: dict[str, str], requested: bool, objects: bool, status: str | None
) -> None:
    state = _state(*([_osd()] if objects else []), labels=labels, requested=requested)
    info = state.namespaces[0]  # type: ignore[index]

    check = namespaces.namespace_check(info, state, _judged(state))

    assert (check and check.status) == status
    if check is not None and status != "ok":
        overwrite = " --overwrite" if c.LABEL_ENABLED in labels else ""
        assert check.fix == f"kubectl label namespace {NS} {c.LABEL_ENABLED}=true{overwrite}"


def test_without_any_opted_in_namespace_the_doctor_says_nothing_is_injected() -> None:
    state = _state(labels={})

    check = namespaces.opted_in_check(state)

    assert check.status == "warn"
    assert "nothing is injected" in check.detail


def test_the_view_answers_like_the_caches() -> None:
    state = _state(
        secrets={
            (NS, "a"): SecretData("a", {"k": b"v"}),
            (NS, "b"): None,
            (NS, "c"): Failed("secrets/c", "forbidden", True),
        }
    )
    view = namespaces.view_of(state)

    assert view.secret(NS, "a") == SecretInfo("a", frozenset({"k"}))
    assert view.secret(NS, "b") is None
    assert view.secret(NS, "c") == "unknown"
    assert view.secret(NS, "never-read") == "unknown"
    assert copy.deepcopy(view.namespace_labels(NS)) == {c.LABEL_ENABLED: "true"}

"""`vsi-webhook doctor`'s flags: a bad one is one line and exit code 2, before any call."""

from __future__ import annotations

from pathlib import Path

import pytest

from injector.check.preflight import CHECK_NAMES as PREFLIGHT_CHECKS
from webhook.cli import build_parser, main
from webhook.commands.doctor import settings_from
from webhook.doctor.vault import CONNECTION_CHECKS


@pytest.fixture(autouse=True)
def no_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither a pod nor a kubeconfig: nothing here may reach an API server."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "Rook_Ceph"], "-n: 'Rook_Ceph' is not a DNS-1123 label"),
        (["--service", "9svc"], "--service: '9svc' is not a DNS-1035 label"),
        (["--secret", "a b"], "--secret: 'a b' is not a DNS-1123 subdomain"),
        (["--webhook-namespace", "a.b"], "--webhook-namespace: 'a.b' is not a DNS-1123 label"),
        (["--rotate-cronjob", "Rotate"], "--rotate-cronjob: 'Rotate' is not a DNS-1123 subdomain"),
        (["--deadline", "5"], "--deadline: only with --vault"),
        (["--vault", "--deadline", "0"], "--deadline: expected seconds in (0, 3600], got '0'"),
        (["--vault", "--deadline", "soon"], "--deadline: expected seconds in (0, 3600]"),
        (["--config", "/nonexistent/config.yaml"], "/nonexistent/config.yaml: cannot read"),
        (["--kubeconfig", "/nonexistent/kubeconfig"], "/nonexistent/kubeconfig is not a readable"),
        ([], "no Kubernetes configuration: not running in a pod and no kubeconfig"),
        (["-o", "yaml"], "argument -o/--output: invalid choice: 'yaml'"),
    ],
)
def test_bad_usage_is_one_line_and_exit_code_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _exit_code(["doctor", *args])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert message in err


def _exit_code(argv: list[str]) -> object:
    """``main``'s exit code, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_in_a_pod_the_webhook_namespace_defaults_to_the_pods() -> None:
    args = build_parser().parse_args(["doctor"])

    inside = settings_from(args, {"POD_NAMESPACE": "vsi-system"})
    outside = settings_from(args, {})

    assert inside.locations.namespace == "vsi-system"
    assert outside.locations.namespace == "vault-storage-injector"


def test_an_empty_rotate_cronjob_means_the_certificate_is_issued_elsewhere() -> None:
    named = settings_from(build_parser().parse_args(["doctor", "--rotate-cronjob", "x-rot"]), {})
    empty = settings_from(build_parser().parse_args(["doctor", "--rotate-cronjob="]), {})
    default = settings_from(build_parser().parse_args(["doctor"]), {})

    assert named.locations.rotate_cronjob == "x-rot"
    assert empty.locations.rotate_cronjob is None
    assert default.locations.rotate_cronjob == "vault-storage-injector-certs-rotate"


def test_repeated_namespaces_are_checked_once_in_the_order_given() -> None:
    args = build_parser().parse_args(["doctor", "-n", "b", "-n", "a", "-n", "b"])

    assert settings_from(args, {}).namespaces == ("b", "a")


def test_portworx_keeps_only_checks_the_injector_reports() -> None:
    assert CONNECTION_CHECKS <= PREFLIGHT_CHECKS

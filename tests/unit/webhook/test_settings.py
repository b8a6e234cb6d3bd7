"""`webhook.server.settings`: flags > VSI_WEBHOOK_* variables > defaults, and one-line errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from webhook import cli
from webhook.errors import UsageError
from webhook.server.settings import ServeSettings, env_name, from_sources


def _args(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(["serve", *argv])


def test_defaults_need_only_the_certificate_pair() -> None:
    settings = from_sources(_args("--tls-cert", "c.pem", "--tls-key", "k.pem"), {})
    assert settings == ServeSettings(tls_cert=Path("c.pem"), tls_key=Path("k.pem"))
    assert (settings.host, settings.port, settings.metrics_port) == ("0.0.0.0", 8443, 9090)
    assert settings.use_kubernetes
    assert settings.log_format == "json"


def test_dev_listens_on_loopback_and_needs_no_files() -> None:
    settings = from_sources(_args("--dev"), {})
    assert settings.dev
    assert settings.host == "127.0.0.1"
    assert settings.tls_cert is None


def test_flags_win_over_variables_which_win_over_defaults() -> None:
    env = {
        "VSI_WEBHOOK_PORT": "9443",
        "VSI_WEBHOOK_METRICS_PORT": "0",
        "VSI_WEBHOOK_DEV": "true",
        "VSI_WEBHOOK_LOG_FORMAT": "text",
        "VSI_WEBHOOK_NO_KUBERNETES": "1",
        "POD_NAMESPACE": "vsi-system",
    }
    settings = from_sources(_args("--port", "10443"), env)
    assert settings.port == 10443
    assert settings.metrics_port == 0
    assert settings.dev
    assert settings.log_format == "text"
    assert not settings.use_kubernetes
    assert settings.webhook_namespace == "vsi-system"
    assert settings.dev_namespace == "vsi-system"


def test_connection_cap_and_handshake_timeout_come_from_flags_or_variables() -> None:
    defaults = from_sources(_args("--dev"), {})
    assert (defaults.max_connections, defaults.tls_handshake_timeout) == (512, 5.0)
    env = {"VSI_WEBHOOK_MAX_CONNECTIONS": "300", "VSI_WEBHOOK_TLS_HANDSHAKE_TIMEOUT": "2.5"}
    from_env = from_sources(_args("--dev"), env)
    assert (from_env.max_connections, from_env.tls_handshake_timeout) == (300, 2.5)
    from_flags = from_sources(_args("--dev", "--max-connections", "64"), env)
    assert from_flags.max_connections == 64


def test_every_flag_has_its_variable_name() -> None:
    assert env_name("--metrics-port") == "VSI_WEBHOOK_METRICS_PORT"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ([], {}, "--tls-cert and --tls-key are both required"),
        (["--tls-cert", "c"], {}, "--tls-cert and --tls-key are both required"),
        (["--dev", "--tls-key", "k"], {}, "--dev makes its own certificates"),
        (["--dev", "--port", "x"], {}, "--port: 'x' is not a port number"),
        (
            ["--dev"],
            {"VSI_WEBHOOK_PORT": "65536"},
            "--port ($VSI_WEBHOOK_PORT): '65536' is not a port number (0-65535)",
        ),
        (["--dev"], {"VSI_WEBHOOK_LOG_FORMAT": "xml"}, "'xml' is not one of json, text"),
        (["--dev"], {"VSI_WEBHOOK_NO_KUBERNETES": "maybe"}, "expected true or false"),
        (["--dev", "--read-timeout", "0"], {}, "--read-timeout: '0' is not a positive number"),
        (["--dev", "--idle-timeout", "nan"], {}, "--idle-timeout: 'nan' is not a positive"),
        (["--dev", "--max-connections", "0"], {}, "--max-connections: '0' is not a whole number"),
        (
            ["--dev"],
            {"VSI_WEBHOOK_MAX_CONNECTIONS": "1.5"},
            "--max-connections ($VSI_WEBHOOK_MAX_CONNECTIONS): '1.5' is not a whole number",
        ),
        (
            ["--dev", "--tls-handshake-timeout", "-2"],
            {},
            "--tls-handshake-timeout: '-2' is not a positive number of seconds",
        ),
    ],
)
def test_bad_values_are_one_line_usage_errors_naming_the_flag(
    argv: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        from_sources(_args(*argv), env)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2

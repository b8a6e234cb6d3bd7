"""The OpenBao fixture is a real server: hvac writes and reads over HTTP, HTTPS and mutual TLS."""

from __future__ import annotations

import hvac
import pytest
import requests

from demo.openbao import TLS_SERVER_NAME, OpenBao


def test_kv_v2_round_trip_over_http(openbao: OpenBao) -> None:
    client = openbao.client()
    client.secrets.kv.v2.create_or_update_secret(path="fixture/http", secret={"k": "v1"})
    read = client.secrets.kv.v2.read_secret_version(
        path="fixture/http", raise_on_deleted_version=True
    )
    assert read["data"]["data"] == {"k": "v1"}
    assert read["data"]["metadata"]["version"] == 1


def test_kv_v2_round_trip_over_https_with_the_generated_ca(openbao_tls: OpenBao) -> None:
    client = openbao_tls.client(openbao_tls.https_addr, verify=str(openbao_tls.ca_cert))
    client.secrets.kv.v2.create_or_update_secret(path="fixture/https", secret={"k": "v2"})
    read = client.secrets.kv.v2.read_secret_version(
        path="fixture/https", raise_on_deleted_version=True
    )
    assert read["data"]["data"] == {"k": "v2"}


def test_https_without_the_ca_is_refused(openbao_tls: OpenBao) -> None:
    client = openbao_tls.client(openbao_tls.https_addr, verify=True)
    with pytest.raises(requests.exceptions.SSLError):
        client.sys.read_health_status(method="GET")


def test_mutual_tls_listener_needs_a_client_certificate(openbao_tls: OpenBao) -> None:
    without = openbao_tls.client(openbao_tls.mtls_addr, verify=str(openbao_tls.ca_cert))
    with pytest.raises(requests.exceptions.RequestException):
        without.sys.read_health_status(method="GET")
    with_cert = openbao_tls.client(
        openbao_tls.mtls_addr,
        verify=str(openbao_tls.ca_cert),
        cert=(str(openbao_tls.client_cert), str(openbao_tls.client_key)),
    )
    assert with_cert.sys.read_health_status(method="GET")["sealed"] is False


def test_server_certificate_carries_an_extra_name_for_tls_server_name(openbao_tls: OpenBao) -> None:
    from certs.pki import load_cert, san_names

    cert = load_cert((openbao_tls.certs_dir / "tls.crt").read_bytes())
    assert cert is not None
    assert TLS_SERVER_NAME in san_names(cert)


def test_root_token_is_the_known_one(openbao: OpenBao) -> None:
    assert hvac.Client(url=openbao.addr, token=openbao.root_token).is_authenticated()
    assert not hvac.Client(url=openbao.addr, token="wrong").is_authenticated()

"""Serving certificates for the admission webhook: a small CA and a leaf for the webhook Service.

`certs.generate` makes or reuses them on disk (the webhook's ``--dev`` mode and the tests call it
directly); `vsi-certs` is the command line around it.
"""

from certs.errors import CertsError, InvalidInput
from certs.generate import (
    CA_CERT_FILE,
    CA_KEY_FILE,
    TLS_CERT_FILE,
    TLS_KEY_FILE,
    CertFiles,
    GenerateResult,
    generate,
    service_dns_names,
)

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "CertFiles",
    "CertsError",
    "GenerateResult",
    "InvalidInput",
    "generate",
    "service_dns_names",
]

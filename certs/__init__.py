"""Serving certificates for the admission webhook: a small CA and a leaf for the webhook Service.

`certs.pki` makes and checks keys and certificates (pure); `certs.generate` makes or reuses them on
disk (the webhook's ``--dev`` mode and the tests call it directly); `certs.bootstrap` installs them
in a cluster; `vsi-certs` (`certs.cli`) is the command line around both.
"""

from certs.errors import CertsError, InvalidInput
from certs.generate import CertFiles, GenerateResult, generate
from certs.pki import CA_CERT_FILE, CA_KEY_FILE, TLS_CERT_FILE, TLS_KEY_FILE, service_dns_names

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

"""Name checks shared by every package, with the Kubernetes rules spelled once.

Kubernetes validates object names with three shapes (``k8s.io/apimachinery/pkg/util/validation``):
DNS-1123 labels (namespaces), DNS-1035 labels (Services) and DNS-1123 subdomains (Secrets, PVCs
and most other objects). Copies of these regexes drift (one accepted ``a..b`` as a Secret name), so
every package asks here. Hostnames (``VAULT_ADDR``, ``VAULT_TLS_SERVER_NAME``, certificate names)
follow RFC 1123 instead: case-insensitive labels of at most 63 characters. Pure: standard library
only.
"""

from __future__ import annotations

import re
from typing import Final

MAX_LABEL: Final = 63
"""Longest DNS label (one dot-separated part; a namespace or Service name)."""
MAX_SUBDOMAIN: Final = 253
"""Longest DNS-1123 subdomain (a Secret or PVC name) and longest hostname."""

_LABEL: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL: Final = re.compile(rf"^{_LABEL}$")
_DNS1035_LABEL: Final = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN: Final = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_HOST_LABEL: Final = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$")
_HOST_LABEL_UNDERSCORE: Final = re.compile(r"^[A-Za-z0-9_]([-A-Za-z0-9_]*[A-Za-z0-9_])?$")

DNS1123_LABEL_PATTERN: Final = _DNS1123_LABEL.pattern
"""`is_dns1123_label`'s expression, valid in JSON Schema too (ECMA-262); length: `MAX_LABEL`."""
DNS1123_SUBDOMAIN_PATTERN: Final = _DNS1123_SUBDOMAIN.pattern
"""`is_dns1123_subdomain`'s expression, valid in JSON Schema too; length: `MAX_SUBDOMAIN`."""

DNS1123_LABEL: Final = "a DNS-1123 label (a-z, 0-9 and '-', at most 63 characters)"
"""What `is_dns1123_label` expects, for error messages."""
DNS1035_LABEL: Final = (
    "a DNS-1035 label (a-z, 0-9 and '-', starting with a letter, at most 63 characters)"
)
"""What `is_dns1035_label` expects, for error messages."""
DNS1123_SUBDOMAIN: Final = (
    "a DNS-1123 subdomain (a-z, 0-9, '-' and '.', each part starting and ending with a letter or "
    "digit, at most 253 characters)"
)
"""What `is_dns1123_subdomain` expects, for error messages."""
HOSTNAME: Final = "a DNS name (letters, digits and '-' in dot-separated parts of 1-63 characters)"
"""What `is_hostname` expects, for error messages."""


def is_dns1123_label(name: str) -> bool:
    """Kubernetes' IsDNS1123Label: namespace names, profile names, label-like names."""
    return len(name) <= MAX_LABEL and _DNS1123_LABEL.match(name) is not None


def is_dns1035_label(name: str) -> bool:
    """Kubernetes' IsDNS1035Label: Service names."""
    return len(name) <= MAX_LABEL and _DNS1035_LABEL.match(name) is not None


def is_dns1123_subdomain(name: str) -> bool:
    """Kubernetes' IsDNS1123Subdomain: Secret, PVC, ConfigMap and most other object names."""
    return len(name) <= MAX_SUBDOMAIN and _DNS1123_SUBDOMAIN.match(name) is not None


def is_secret_name(name: str) -> bool:
    """A valid Secret name (a DNS-1123 subdomain)."""
    return is_dns1123_subdomain(name)


def is_pvc_name(name: str) -> bool:
    """A valid PersistentVolumeClaim name (a DNS-1123 subdomain)."""
    return is_dns1123_subdomain(name)


def is_namespace_name(name: str) -> bool:
    """A valid namespace name (a DNS-1123 label)."""
    return is_dns1123_label(name)


def is_service_name(name: str) -> bool:
    """A valid Service name (a DNS-1035 label)."""
    return is_dns1035_label(name)


def is_hostname(name: str, *, underscores: bool = False, trailing_dot: bool = False) -> bool:
    """An RFC 1123 hostname: dot-separated labels of 1-63 letters, digits and '-', any case.

    ``underscores`` also accepts '_' (service-discovery and container names that resolvers
    answer); ``trailing_dot`` accepts one final '.' (a fully qualified name).
    """
    if trailing_dot and name.endswith("."):
        name = name[:-1]
    if not name or len(name) > MAX_SUBDOMAIN:
        return False
    pattern = _HOST_LABEL_UNDERSCORE if underscores else _HOST_LABEL
    return all(
        len(label) <= MAX_LABEL and pattern.match(label) is not None for label in name.split(".")
    )

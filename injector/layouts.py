"""Key layouts: where each volume's key lives in Vault, which field holds it, which file gets it.

Pure (standard library only; an import-linter contract forbids I/O libraries here) so the rules that
decide a key's identity can be tested exhaustively and shared with the webhook.

* ``rook``: compatible with Rook's own Vault KMS code (``pkg/daemon/ceph/osd/kms``): the secret
  ``rook-ceph-osd-encryption-key-<pvc>`` directly under the KV mount, one field with the same name,
  whose value is the base64 text of 128 random bytes. Rook's ``cryptsetup --key-file luks_key`` uses
  that *text* as the passphrase, so the file holds exactly the stored string.
* ``volume-keys``: ``<mount>/vault-storage-injector/<namespace>/<pvc>`` (template), field ``key`` =
  base64 of 32 random bytes; the file holds the 32 raw bytes, which LUKS (``--key-file``) and plain
  dm-crypt (``--key-file --key-size 256``) both take as 256 bits of key material.
"""

from __future__ import annotations

import base64
import binascii
import re
import string
from dataclasses import dataclass
from typing import Final

from vsi_common import names

ROOK: Final = names.LAYOUT_ROOK
"""Layout name for Rook-Ceph OSDs on PVCs."""
VOLUME_KEYS: Final = names.LAYOUT_VOLUME_KEYS
"""Layout name for one generic key per PVC."""
LAYOUTS: Final = names.LAYOUTS
"""Every layout name, as accepted by ``--layout``."""

ROOK_KEY_PREFIX: Final = "rook-ceph-osd-encryption-key-"
"""Rook's secret id prefix; the id is the prefix plus the OSD's PVC name."""
ROOK_KEY_FILE: Final = "luks_key"
"""File name Rook's ``encryption-open`` init container passes to ``cryptsetup --key-file``."""
ROOK_KEY_BYTES: Final = 128
"""Random bytes in a Rook dm-crypt key (Rook's ``dmCryptKeySize``), stored base64-encoded."""

VOLUME_KEY_BYTES: Final = 32
"""Random bytes in a volume-keys key (256 bits)."""
VOLUME_KEY_FIELD: Final = "key"
"""KV field holding the base64 text of a volume-keys key."""
DEFAULT_KEY_PATH_TEMPLATE: Final = "vault-storage-injector/{namespace}/{pvc}"
"""volume-keys secret path under the KV mount; fields: {namespace} {pvc} {pv} {volume_handle}."""
TEMPLATE_FIELDS: Final = frozenset({"namespace", "pvc", "pv", "volume_handle"})
"""Placeholders a key path template may use."""
KUBE_TEMPLATE_FIELDS: Final = frozenset({"pv", "volume_handle"})
"""Placeholders that need the PVC's bound PV from the Kubernetes API."""

_PATH_SEGMENT: Final = re.compile(r"^[A-Za-z0-9._@+=:-]+$")


@dataclass(frozen=True)
class KeySpec:
    """Where one volume's key lives and where it goes."""

    volume: str
    """The PVC name the key belongs to."""
    secret_path: str
    """Secret path relative to the KV mount (no ``data/`` prefix, no slashes at the ends)."""
    field: str
    """KV field that holds the key text."""
    file_name: str
    """Name of the key file in the output directory."""


def check_secret_path(path: str) -> str | None:
    """Why ``path`` is not a safe relative Vault path, or None when it is."""
    if not path:
        return "it is empty"
    if path.startswith("/") or path.endswith("/"):
        return "it must not start or end with '/'"
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            return "it has an empty, '.' or '..' segment"
        if _PATH_SEGMENT.match(segment) is None:
            return f"segment {segment!r} has characters outside [A-Za-z0-9._@+=:-]"
    return None


def template_fields(template: str) -> frozenset[str]:
    """The placeholders in a key path template; ValueError names an unknown or malformed one."""
    found: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"malformed braces ({exc})") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or spec or conversion:
            allowed = " ".join(f"{{{f}}}" for f in sorted(TEMPLATE_FIELDS))
            raise ValueError(f"unknown placeholder {{{name}}}; expected only {allowed}")
        found.add(name)
    if "pvc" not in found and "volume_handle" not in found and "pv" not in found:
        raise ValueError(
            "it must contain {pvc}, {pv} or {volume_handle} so each volume has its own key"
        )
    return frozenset(found)


def rook_spec(pvc: str) -> KeySpec:
    """Rook's key for the OSD on ``pvc``: id and field ``rook-ceph-osd-encryption-key-<pvc>``."""
    key_id = ROOK_KEY_PREFIX + pvc
    return KeySpec(volume=pvc, secret_path=key_id, field=key_id, file_name=ROOK_KEY_FILE)


def volume_keys_spec(
    template: str, *, namespace: str, pvc: str, pv: str = "", volume_handle: str = ""
) -> KeySpec:
    """The volume-keys key for ``pvc``; ValueError when the filled template is not a safe path."""
    path = template.format(namespace=namespace, pvc=pvc, pv=pv, volume_handle=volume_handle)
    problem = check_secret_path(path)
    if problem is not None:
        raise ValueError(f"key path {path!r} for volume {pvc!r} is unsafe: {problem}")
    return KeySpec(volume=pvc, secret_path=path, field=VOLUME_KEY_FIELD, file_name=pvc)


def key_size(layout: str) -> int:
    """How many random bytes a new key of ``layout`` has."""
    return ROOK_KEY_BYTES if layout == ROOK else VOLUME_KEY_BYTES


def stored_text(raw: bytes) -> str:
    """The text stored in Vault for new random key bytes (base64, both layouts)."""
    return base64.b64encode(raw).decode("ascii")


def _strict_base64(text: bytes) -> bytes:
    """The bytes of canonical standard base64 (RFC 4648 alphabet, padded, nothing else)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError(
            "the stored key is not standard base64 (RFC 4648 alphabet with padding, no spaces or "
            "newlines)"
        ) from None
    if base64.b64encode(raw) != text:
        raise ValueError(
            "the stored key is not canonical base64 (stray bits in its last character)"
        )
    return raw


def file_bytes(layout: str, stored: str, *, seed: bytes | None = None) -> bytes:
    """The exact key-file content for the text stored in Vault; ValueError says why it is unusable.

    volume-keys: the text must be standard base64 of exactly `VOLUME_KEY_BYTES` bytes; the file
    holds those bytes. rook: the file holds the text itself (Rook's passphrase is the base64
    string), which must be what Rook writes (base64 of `ROOK_KEY_BYTES` bytes) or, for a key
    migrated from Rook's Secret, exactly the ``seed``. A wrong-length key is a corrupted or
    foreign entry, never something to hand to a disk. The message never quotes the value.
    """
    if not stored:
        raise ValueError("the stored key is empty")
    try:
        text = stored.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("the stored key is not ASCII text") from None
    if layout == ROOK:
        if seed is not None and text == seed:
            return text
        raw = _strict_base64(text)
        if len(raw) != ROOK_KEY_BYTES:
            also = " or exactly the seed from Rook's Secret" if seed is not None else ""
            raise ValueError(
                f"the stored key decodes to {len(raw)} bytes, expected {ROOK_KEY_BYTES} (Rook's "
                f"key size){also}"
            )
        return text
    raw = _strict_base64(text)
    if len(raw) != VOLUME_KEY_BYTES:
        raise ValueError(f"the stored key decodes to {len(raw)} bytes, expected {VOLUME_KEY_BYTES}")
    return raw


def check_seed(seed: bytes) -> str | None:
    """Why a Rook seed (the key text from Rook's Secret) is unusable, or None when it is fine."""
    if not seed:
        return "it is empty"
    try:
        base64.b64decode(seed, validate=True)
    except binascii.Error:
        return "it is not base64 text (Rook keys are base64; a trailing newline also fails this)"
    return None

"""Setting values both packages parse the same way (booleans), so one spelling means one thing.

``VAULT_SKIP_VERIFY=t`` must mean the same to the injector as ``VSI_WEBHOOK_DEV=t`` to the webhook,
and both must accept what Portworx and Rook (Go's ``strconv.ParseBool``) accept. A ``VAULT_*``
boolean also reaches Portworx and Rook, so it takes Go's spellings only (`parse_go_bool`). Pure:
standard library only; callers wrap the `ValueError` into their own error naming the setting.
"""

from __future__ import annotations

from typing import Final

TRUE_WORDS: Final = frozenset({"1", "t", "true", "yes", "y", "on"})
"""Boolean spellings read as true (a superset of Go's strconv.ParseBool, case-insensitive)."""
FALSE_WORDS: Final = frozenset({"", "0", "f", "false", "no", "n", "off"})
"""Boolean spellings read as false; empty means unset, which is false."""
GO_TRUE_WORDS: Final = ("1", "t", "T", "TRUE", "true", "True")
"""What Go's ``strconv.ParseBool`` reads as true, exactly (Portworx and Rook read VAULT_* so)."""
GO_FALSE_WORDS: Final = ("0", "f", "F", "FALSE", "false", "False")
"""What Go's ``strconv.ParseBool`` reads as false, exactly."""
GO_BOOL_EXPECTED: Final = (
    "true or false (Go's spellings: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)"
)
"""What a VAULT_* boolean takes, as errors and docs say it."""


def parse_bool(value: str) -> bool:
    """``value`` as a boolean; `ValueError` ("expected true or false, got ...") otherwise."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected true or false, got {value.strip()[:40]!r}")


def parse_go_bool(value: str) -> bool:
    """``value`` (trimmed) as Go's ``strconv.ParseBool`` reads it: a VAULT_* boolean, which
    Portworx and Rook parse so; `ValueError` ("expected true or false (Go's spellings ...)")
    for anything else, ``yes`` and ``on`` included, which they refuse."""
    word = value.strip()
    if word in GO_TRUE_WORDS:
        return True
    if word in GO_FALSE_WORDS:
        return False
    raise ValueError(f"expected {GO_BOOL_EXPECTED}, got {word[:40]!r}")

"""Setting values both packages parse the same way (booleans), so one spelling means one thing.

``VAULT_SKIP_VERIFY=t`` must mean the same to the injector as ``VSI_WEBHOOK_DEV=t`` to the webhook,
and both must accept what Portworx and Rook (Go's ``strconv.ParseBool``) accept. Pure: standard
library only; callers wrap the `ValueError` into their own error naming the setting.
"""

from __future__ import annotations

from typing import Final

TRUE_WORDS: Final = frozenset({"1", "t", "true", "yes", "y", "on"})
"""Boolean spellings read as true (a superset of Go's strconv.ParseBool, case-insensitive)."""
FALSE_WORDS: Final = frozenset({"", "0", "f", "false", "no", "n", "off"})
"""Boolean spellings read as false; empty means unset, which is false."""


def parse_bool(value: str) -> bool:
    """``value`` as a boolean; `ValueError` ("expected true or false, got ...") otherwise."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected true or false, got {value.strip()[:40]!r}")

"""Keeping secrets out of error lines: what a server sent back is shown only redacted and bounded.

A gateway that echoes the request back (headers and body) hands the injector its own token, the
AppRole secret_id, the service-account JWT or a brand-new key, and whatever the injector quotes ends
up in the pod's log. So every text that came from the other side of the network goes through one
`Redactor` before it is quoted: each secret the run knows (added as soon as the run has it) is
removed, and so is every run of 8 or more characters of one (an echo cut short still leaks most of a
key otherwise; a secret shorter than that is removed as a whole token only, never inside a word);
token-, JWT- and key-shaped strings are removed whoever they belong to; control
characters become spaces (one line stays one line) and the result has a bounded length. Pure:
standard library only.
"""

from __future__ import annotations

import re
import threading
from typing import Final

REDACTED: Final = "[redacted]"
"""What replaces a secret, or a piece of one, in a quoted text."""
MIN_FRAGMENT: Final = 8
"""Shortest piece of a known secret that is removed on its own (shorter secrets: whole only)."""
MAX_QUOTED: Final = 200
"""Longest quoted text (one Vault error string), in characters, after redaction."""
MAX_SCANNED: Final = 2000
"""Longest text looked at; a longer one is cut first (the quote keeps far less anyway)."""

SHAPED: Final = re.compile(
    r"\b(?:hv[sbr]|[sbr])\.[A-Za-z0-9_-]{16,}"  # Vault and OpenBao tokens (hvs., s., b., r.)
    r"|eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]*)?"  # JWTs (and JWT headers)
    r"|[A-Za-z0-9+/_-]{24,}={0,2}"  # long base64, base64url or hex runs: maybe key material
)
"""Strings shaped like a token, a JWT or key material, whoever they belong to."""
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES: Final = re.compile(r"\s{2,}")


def _keyish(match: str) -> bool:
    """Whether a shaped match is secret-like: a token or JWT, or a run that looks random.

    Random base64 of 24+ characters mixes digits, upper- and lowercase letters; words, paths and
    request ids (lowercase, dashes) do not. A hex run of 32+ characters is a key printed in hex.
    """
    if match.startswith(("hv", "s.", "b.", "r.", "eyJ")):
        return True
    digits = any(c.isdigit() for c in match)
    if len(match) >= 32 and digits and all(c in "0123456789abcdefABCDEF" for c in match):
        return not match.isdigit()
    return digits and any(c.isupper() for c in match) and any(c.islower() for c in match)


def one_line(text: str, limit: int = MAX_QUOTED) -> str:
    """``text`` on one line (control characters as spaces), at most ``limit`` characters."""
    flat = _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


class Redactor:
    """The secrets of one run, and the one function that quotes outside text without them.

    Thread-safe: keys fetched concurrently add themselves while other threads quote.
    """

    def __init__(self, *secrets: str | bytes | None) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | bytes | None) -> None:
        """Remember a secret (a token, a secret_id, a JWT, key text); empty values are ignored."""
        if secret is None:
            return
        text = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
        text = text.strip()
        if not text:
            return
        with self._lock:
            if text not in self._secrets:
                # Longest first: a secret that contains another is removed whole.
                self._secrets = tuple(sorted((*self._secrets, text), key=len, reverse=True))

    def redact(self, text: str) -> str:
        """``text`` without any known secret, any piece of one, or any secret-shaped string."""
        text = text[:MAX_SCANNED]
        for secret in self._secrets:
            text = _remove(text, secret)
        return SHAPED.sub(lambda m: REDACTED if _keyish(m.group(0)) else m.group(0), text)

    def scrub(self, text: str) -> str:
        """``text`` without any known secret or piece of one (the last net under an error line)."""
        for secret in self._secrets:
            text = _remove(text, secret)
        return text

    def quote(self, text: str, limit: int = MAX_QUOTED) -> str:
        """``text`` from the other side, fit for an error line: redacted, one line, bounded."""
        return one_line(self.redact(one_line(text, MAX_SCANNED)), limit)


_WORD_CHAR: Final = r"[A-Za-z0-9_-]"
"""A character that continues a word: a short secret next to one is part of it, not itself."""


def _remove(text: str, secret: str) -> str:
    """``text`` with ``secret`` and every run of at least MIN_FRAGMENT of its characters removed.

    A secret shorter than MIN_FRAGMENT (a dev token such as ``e`` or ``root``) is removed only as a
    whole token, never inside a word: ``use`` stays ``use`` when the token is ``e``.
    """
    if len(secret) < MIN_FRAGMENT:
        whole = rf"(?<!{_WORD_CHAR}){re.escape(secret)}(?!{_WORD_CHAR})"
        return re.sub(whole, REDACTED, text)
    if not _shares_a_fragment(text, secret):
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if i + MIN_FRAGMENT <= n and text[i : i + MIN_FRAGMENT] in secret:
            j = i + MIN_FRAGMENT
            while j < n and text[i : j + 1] in secret:
                j += 1
            if not out or out[-1] != REDACTED:
                out.append(REDACTED)
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _shares_a_fragment(text: str, secret: str) -> bool:
    """A quick test before the exact scan: does any MIN_FRAGMENT window of ``secret`` occur?"""
    step = MIN_FRAGMENT // 2
    # Every run of MIN_FRAGMENT characters of the secret that occurs in the text contains a
    # window of MIN_FRAGMENT // 2 characters that starts at a multiple of the step.
    return any(secret[k : k + step] in text for k in range(0, max(1, len(secret) - step + 1), step))

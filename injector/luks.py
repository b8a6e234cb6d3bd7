"""The LUKS guard: prove a key unlocks the volume before handing it to a storage daemon.

A wrong key given to a daemon that formats on failure can mean a wiped disk, so
``--verify-luks`` checks the exact key-file bytes with ``cryptsetup open --test-passphrase`` (no
device-mapper needed). The key goes to cryptsetup on stdin (``--key-file -``), never in its
arguments. A path without a LUKS header (a volume not formatted yet) is reported and passes; every
other doubt fails closed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Final, Literal

from injector.errors import LuksError

CRYPTSETUP_FALLBACKS: Final = ("/usr/sbin/cryptsetup", "/sbin/cryptsetup")
"""Where cryptsetup lives when PATH lacks the sbin directories (non-root users)."""
IS_LUKS: Final = 0
"""``cryptsetup isLuks`` exit code for a LUKS header."""
NOT_LUKS: Final = 1
"""``cryptsetup isLuks`` exit code for no LUKS header."""
WRONG_KEY: Final = 2
"""``cryptsetup open`` exit code when no key slot accepts the passphrase."""

Verdict = Literal["unlocks", "no-luks-header"]


def cryptsetup_binary() -> str:
    """Path of cryptsetup; LuksError when it is not installed (the check cannot be skipped)."""
    found = shutil.which("cryptsetup")
    if found:
        return found
    for candidate in CRYPTSETUP_FALLBACKS:
        if Path(candidate).is_file():
            return candidate
    raise LuksError("--verify-luks needs cryptsetup, which is not installed")


def _run(args: list[str], key: bytes | None, timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(args, input=key, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise LuksError(
            f"cryptsetup {args[1]} on {args[-1]} did not finish within the deadline"
        ) from None
    except OSError as exc:
        raise LuksError(f"cannot run cryptsetup: {exc.strerror}") from None


def verify(device: Path, key: bytes, timeout: float) -> Verdict:
    """``unlocks`` or ``no-luks-header``; LuksError when the key does not unlock ``device``."""
    binary = cryptsetup_binary()
    probe = _run([binary, "isLuks", str(device)], None, timeout)
    if probe.returncode == NOT_LUKS:
        return "no-luks-header"
    if probe.returncode != IS_LUKS:
        detail = probe.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise LuksError(f"cannot read the LUKS header of {device}: {detail[0] or probe.returncode}")
    test = _run([binary, "open", "--test-passphrase", "--key-file", "-", str(device)], key, timeout)
    if test.returncode == 0:
        return "unlocks"
    if test.returncode == WRONG_KEY:
        raise LuksError(
            f"the key from Vault does not unlock the LUKS volume {device}; refusing to write it "
            "(a wrong key could get the volume re-formatted)"
        )
    detail = test.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
    raise LuksError(
        f"cryptsetup could not check the key against {device}: {detail[0] or test.returncode}"
    )

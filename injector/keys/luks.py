"""The LUKS guard: prove a key unlocks the volume before handing it to a storage daemon.

A wrong key given to a daemon that formats on failure can mean a wiped disk, so
``--verify-luks`` checks the exact key-file bytes with ``cryptsetup open --test-passphrase`` (no
device-mapper needed). The key goes to cryptsetup on stdin (``--key-file -``), never in its
arguments, and cryptsetup gets a minimal environment (`CHILD_ENV`): the injector's own holds
``VAULT_TOKEN`` or an AppRole secret_id, which no child needs. A path without a LUKS header (a
volume not formatted yet) is reported and passes; every other doubt fails closed. The header is
probed before Vault is touched, so a formatted volume never gets a new key and a seed is checked
before it is stored. Each cryptsetup run gets at most the time left in the deadline.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
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
MIN_TIME: Final = 0.05
"""A cryptsetup run needs at least this many seconds left in the deadline to be started."""
CHILD_ENV: Final = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
"""The whole environment of a cryptsetup run: no VAULT_* secret, messages in plain English."""

Verdict = Literal["unlocks", "no-luks-header"]
Remaining = Callable[[], float]


def cryptsetup_binary() -> str:
    """Path of cryptsetup; LuksError when it is not installed (the check cannot be skipped)."""
    found = shutil.which("cryptsetup")
    if found:
        return found
    for candidate in CRYPTSETUP_FALLBACKS:
        if Path(candidate).is_file():
            return candidate
    raise LuksError("--verify-luks needs cryptsetup, which is not installed")


def _run(
    args: list[str], key: bytes | None, remaining: Remaining
) -> subprocess.CompletedProcess[bytes]:
    timeout = remaining()
    late = LuksError(f"cryptsetup {args[1]} on {args[-1]} did not finish within the deadline")
    if timeout < MIN_TIME:
        raise late
    try:
        return subprocess.run(
            args,
            input=key,
            capture_output=True,
            timeout=timeout,
            check=False,
            env=dict(CHILD_ENV),
            close_fds=True,
        )
    except subprocess.TimeoutExpired:
        raise late from None
    except OSError as exc:
        raise LuksError(f"cannot run cryptsetup: {exc.strerror}") from None


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


def has_header(device: Path, remaining: Remaining) -> bool:
    """True when ``device`` holds a LUKS header; LuksError when that cannot be told."""
    probe = _run([cryptsetup_binary(), "isLuks", str(device)], None, remaining)
    if probe.returncode == NOT_LUKS:
        return False
    if probe.returncode != IS_LUKS:
        detail = _last_line(probe.stderr) or probe.returncode
        raise LuksError(f"cannot read the LUKS header of {device}: {detail}")
    return True


def check_key(device: Path, key: bytes, remaining: Remaining, source: str = "from Vault") -> None:
    """LuksError unless ``key`` (the exact key-file bytes) unlocks ``device``."""
    args = [cryptsetup_binary(), "open", "--test-passphrase", "--key-file", "-", str(device)]
    test = _run(args, key, remaining)
    if test.returncode == 0:
        return
    if test.returncode == WRONG_KEY:
        raise LuksError(
            f"the key {source} does not unlock the LUKS volume {device}; refusing to use it, "
            "nothing was written (a wrong key could get the volume re-formatted)"
        )
    detail = _last_line(test.stderr) or test.returncode
    raise LuksError(f"cryptsetup could not check the key against {device}: {detail}")


def verify(device: Path, key: bytes, remaining: Remaining) -> Verdict:
    """``unlocks`` or ``no-luks-header``; LuksError when the key does not unlock ``device``."""
    if not has_header(device, remaining):
        return "no-luks-header"
    check_key(device, key, remaining)
    return "unlocks"

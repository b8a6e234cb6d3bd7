"""A LUKS2 volume in a plain file, formatted with a key file: for the demo and the tests.

``cryptsetup luksFormat`` works on a regular file without device-mapper, so the demo and the tests
can prove that a key fetched at a later mount is the one the volume was formatted with. The PBKDF is
forced cheap (1000 pbkdf2 iterations): these volumes hold nothing and must format in milliseconds.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

DEFAULT_BYTES = 16 * 1024 * 1024
"""Size of a test volume: large enough for a LUKS2 header and its keyslots."""


def format_file(cryptsetup: str, device: Path, key_file: Path, size: int = DEFAULT_BYTES) -> None:
    """Make ``device`` a ``size``-byte file and luksFormat it with the bytes of ``key_file``."""
    with device.open("wb") as handle:
        handle.truncate(size)
    subprocess.run(
        [
            cryptsetup,
            "luksFormat",
            "--batch-mode",
            "--type",
            "luks2",
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
            "--key-file",
            str(key_file),
            str(device),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )

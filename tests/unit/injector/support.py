"""Shared helpers for the injector unit tests: a valid environment to break one value of."""

from __future__ import annotations

from pathlib import Path

NO_SA = Path("/nonexistent-service-account")
"""A service-account directory that does not exist (no namespace file, no token)."""


def base_env(out_dir: Path, **extra: str) -> dict[str, str]:
    """A complete, valid environment for a volume-keys run writing to ``out_dir``."""
    env = {
        "VAULT_ADDR": "http://127.0.0.1:1",
        "VAULT_TOKEN": "s.secret-token-value",
        "VSI_LAYOUT": "volume-keys",
        "VSI_VOLUMES": "a,b",
        "VSI_OUTPUT_DIR": str(out_dir),
        "VSI_NAMESPACE": "ns",
    }
    env.update(extra)
    return env

"""Reading the fields of the profiles file: every error one line naming file, field and expectation.

The top-level parser (`webhook.core.config`) and the connection parser
(`webhook.core.vault_connection`) read mappings, strings and Secret names the same way, so a bad
value reads the same wherever it is. Messages name the type of a bad value, never the value
itself: it might be a credential.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vsi_common import validation
from webhook.errors import ConfigError


class FieldReader:
    """Reads parsed YAML for one file; every error names ``source`` and the dotted field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> ConfigError:
        """The one-line error ``<source>: <where>: <problem>`` (raise it)."""
        return ConfigError(f"{self.source}: {where}: {problem}")

    def mapping(self, value: Any, where: str, allowed: Sequence[str]) -> Mapping[str, Any]:
        """``value`` as a mapping whose keys are all in ``allowed``."""
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping, got {kind(value)}")
        for key in value:
            if key not in allowed:
                raise self.fail(
                    f"{where}.{key}" if where != "(top level)" else str(key),
                    f"unknown field (expected one of: {', '.join(allowed)})",
                )
        return value

    def string(self, value: Any, where: str) -> str:
        """A non-empty string, trimmed."""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected a non-empty string, got {kind(value)}")
        return value.strip()

    def secret_name(self, value: Any, where: str) -> str:
        """The name of a Secret (a DNS-1123 subdomain)."""
        name = self.string(value, where)
        if not validation.is_secret_name(name):
            raise self.fail(where, f"expected a Secret name, {validation.DNS1123_SUBDOMAIN}")
        return name

    def setting(self, value: Any, where: str) -> str:
        """A VAULT_* value: a non-empty string (numbers accepted as YAML gives them), trimmed."""
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(where, f"expected a string, got {kind(value)}")
        text = str(value).strip()
        if not text:
            raise self.fail(where, "expected a non-empty string")
        return text


def kind(value: Any) -> str:
    """A short type name for error messages (never the value: it might be a secret)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__

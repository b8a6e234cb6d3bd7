"""The preflight report: checks with a status, a detail and a fix, as a table or as JSON.

``vsi-injector --check`` and ``vsi-webhook doctor`` answer the same question (would it work, and if
not, what to change) for two halves of one chain, so they share this model, its two renderings and
the exit-code rule: any failing check means a real run would fail (exit 1), otherwise exit 0. A
check's text is built by the command that made it and must already be free of secrets; nothing here
reads or writes anything. Pure: standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

Status = Literal["ok", "warn", "fail"]
"""How a check came out."""
STATUSES: Final[tuple[str, ...]] = get_args(Status)
"""Every status, from best to worst."""
OK: Final[Status] = "ok"
"""The check found nothing to change."""
WARN: Final[Status] = "warn"
"""A real run would succeed, but something deserves attention (a risk, an unknown)."""
FAIL: Final[Status] = "fail"
"""A real run would fail; the check's fix says what to change."""

OUTPUT_FORMATS: Final = ("table", "json")
"""The ``-o`` values: a table for people (the default), JSON for machines."""
EXIT_WOULD_SUCCEED: Final = 0
"""Exit code when no check failed."""
EXIT_WOULD_FAIL: Final = 1
"""Exit code when at least one check failed."""
FIX_PREFIX: Final = "fix: "
"""Start of the line under a check in the table that says what to change."""


@dataclass(frozen=True)
class Check:
    """One thing a preflight looked at, and what it found."""

    name: str
    """Stable identifier, e.g. ``auth`` or ``key:data-0`` (docs/troubleshooting.md lists them)."""
    status: Status
    """``ok``, ``warn`` or ``fail``."""
    detail: str
    """What was found, on one line (never a token, a secret id or key material)."""
    fix: str = ""
    """What to change (the policy line, the Secret key, the flag); empty when nothing is to fix."""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        if not self.name or any(c.isspace() for c in self.name):
            raise ValueError(f"a check name is one word, got {self.name!r}")


def exit_code(checks: Sequence[Check]) -> int:
    """`EXIT_WOULD_FAIL` when any check failed, else `EXIT_WOULD_SUCCEED`."""
    return EXIT_WOULD_FAIL if any(c.status == FAIL for c in checks) else EXIT_WOULD_SUCCEED


def summary(checks: Sequence[Check]) -> str:
    """``5 ok, 1 warn, 0 fail``."""
    return ", ".join(f"{sum(c.status == s for c in checks)} {s}" for s in STATUSES)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_table(checks: Sequence[Check]) -> str:
    """The checks for people: status, name and detail in columns, each fix on the line below."""
    width = max([len("CHECK"), *(len(c.name) for c in checks)])
    indent = " " * (len("STATUS  ") + width + 2)
    lines = [f"{'STATUS':<6}  {'CHECK':<{width}}  DETAIL"]
    for check in checks:
        lines.append(f"{check.status:<6}  {check.name:<{width}}  {_one_line(check.detail)}")
        if check.fix:
            lines.append(f"{indent}{FIX_PREFIX}{_one_line(check.fix)}")
    lines.append(summary(checks))
    return "\n".join(lines) + "\n"


def as_dicts(checks: Sequence[Check]) -> list[dict[str, str]]:
    """One object per check: ``name``, ``status``, ``detail``, ``fix``."""
    return [
        {"name": c.name, "status": c.status, "detail": _one_line(c.detail), "fix": _one_line(c.fix)}
        for c in checks
    ]


def render_json(checks: Sequence[Check]) -> str:
    """The checks for machines: a JSON array with one object per check."""
    return json.dumps(as_dicts(checks), indent=2) + "\n"


def render(checks: Sequence[Check], output_format: str) -> str:
    """The checks in ``output_format`` (one of `OUTPUT_FORMATS`)."""
    if output_format == "json":
        return render_json(checks)
    if output_format == "table":
        return render_table(checks)
    raise ValueError(f"output format must be one of {', '.join(OUTPUT_FORMATS)}")

"""Reading a `vsi_common.report` JSON report in tests: the checks by name."""

from __future__ import annotations


class ChecksByName:
    """Accessors for a report parsed into ``checks``: name -> {status, detail, fix}."""

    checks: dict[str, dict[str, str]]

    def status(self, name: str) -> str:
        return self.checks[name]["status"]

    def detail(self, name: str) -> str:
        return self.checks[name]["detail"]

    def fix(self, name: str) -> str:
        return self.checks[name]["fix"]

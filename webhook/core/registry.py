"""The profile types the core knows, each mapped to its rule; an unknown type is an error.

A profile type picks its rule here and nowhere else: adding a type means adding a module under
`webhook.core.rules` and a line in `RULES`, and a profile whose type has no rule fails when the
profiles load, never by falling through to another type's rule at admission time.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from webhook.core.rules import portworx, portworx_operator, rook_kms, rook_osd, volume_keys
from webhook.core.rules.base import GroupKind, Rule
from webhook.errors import ConfigError

_ALL: Final = (
    portworx.RULE,
    portworx_operator.RULE,
    rook_osd.RULE,
    rook_kms.RULE,
    volume_keys.RULE,
)
RULES: Final[Mapping[str, Rule]] = MappingProxyType({rule.type: rule for rule in _ALL})
"""Every rule, keyed by its profile type constant."""
BY_KIND: Final[Mapping[GroupKind, tuple[Rule, ...]]] = MappingProxyType(
    {kind: tuple(r for r in _ALL if kind in r.kinds) for rule in _ALL for kind in rule.kinds}
)
"""The rules to ask about an object of each ``(group, kind)``; other kinds match no rule."""


def rule_for(profile_type: str) -> Rule:
    """The rule of ``profile_type``; `ConfigError` when there is none."""
    rule = RULES.get(profile_type)
    if rule is None:
        known = ", ".join(RULES)
        raise ConfigError(f"profile type {profile_type!r} has no rule (known: {known})")
    return rule

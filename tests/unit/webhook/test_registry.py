"""Every profile type has one rule; a type without one fails at load, never falls through."""

from __future__ import annotations

import pytest

from webhook.core import constants as c
from webhook.core.mutation import build_mutator
from webhook.core.profiles import Config, Connection, Profile
from webhook.core.registry import RULES, rule_for
from webhook.errors import ConfigError


def test_every_profile_type_has_its_rule_and_no_rule_is_unlisted() -> None:
    assert tuple(RULES) == c.PROFILE_TYPES
    assert all(rule_for(t).type == t for t in c.PROFILE_TYPES)


def test_a_profile_type_without_a_rule_is_refused_when_the_mutator_is_built() -> None:
    config = Config(profiles=(Profile("odd", "no-such-type", Connection(secret="s")),))

    with pytest.raises(ConfigError, match=r"profile type 'no-such-type' has no rule \(known: "):
        build_mutator(config)

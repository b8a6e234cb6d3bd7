"""What each ``VAULT_*`` setting takes and who reads it: one validation for profiles and injector.

The same value reaches up to three Vault clients: Portworx (libopenstorage/secrets over Vault's Go
client), Rook (the same library, in its operator and OSD pods) and ``vsi-injector``. The webhook
refuses a bad value when the profiles load (exit 2, one line), the injector when it starts (exit
2), and both ask this module, so a value one of them takes the other does not refuse, and neither
takes what the vendor that reads it would refuse at a pod's start. Each rule was read from the
vendors' code: libopenstorage/secrets ``vault/vault.go`` and ``vault/utils/utils.go``, Vault's Go
client ``api/client.go`` (``ReadEnvironment``), Rook's ``pkg/daemon/ceph/osd/kms`` (release-1.18),
and Portworx's Vault manual for ``VAULT_BASE_PATH``. ``docs/profiles.md`` lists this table and a
test holds the two together. Pure: standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

from vsi_common import names, values

PORTWORX: Final = "Portworx"
"""Reader: Portworx (libopenstorage/secrets and Vault's Go client, from its env or px-vault)."""
ROOK: Final = "Rook"
"""Reader: Rook's operator, OSD prepare and key-rotation pods (the same library, from their env)."""
INJECTOR: Final = "vsi-injector"
"""Reader: this project's init container."""
READERS: Final = (PORTWORX, ROOK, INJECTOR)
"""Every reader, in documentation order."""
ALL: Final = frozenset(READERS)
"""Every reader."""
GO_CLIENT: Final = frozenset({PORTWORX, ROOK})
"""The two readers built on libopenstorage/secrets and Vault's Go client."""

GO_DURATION: Final = r"([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+"
"""A Go ``time.ParseDuration`` value without a sign (``90s``, ``1h30m``)."""
_UNITS: Final = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PORT: Final = (
    r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
)
ADDR_PATTERN: Final = rf"^https?://(\[[0-9A-Fa-f:.]+\]|[^\s/?#@\[\]:]+)(:{_PORT})?(/[^\s?#]*)?$"
"""VAULT_ADDR: ``http(s)://host[:port][/prefix]``, a port from 1 to 65535, no user, query or
fragment (the injector refuses those; Python's ``re`` and ECMA-262 read it alike)."""
URL_PATTERN: Final = r"^[a-z][a-z0-9+.-]*://([^\s/?#@]+(/\S*)?|/\S+)$"
"""A URL such as ``http://proxy:3128`` or ``unix:///run/vault-agent.sock``."""
MAX_UINT32: Final = 2**32 - 1
"""The largest VAULT_MAX_RETRIES Vault's Go client reads (``strconv.ParseUint(v, 10, 32)``)."""
GO_BOOL_PATTERN: Final = f"^({'|'.join((*values.GO_TRUE_WORDS, *values.GO_FALSE_WORDS))})$"
"""A boolean as Go's ``strconv.ParseBool`` takes it (Portworx and Rook parse VAULT_* so)."""
KV_VERSIONS: Final = {"kv": 1, "v1": 1, "kv-v2": 2, "v2": 2}
"""VAULT_BACKEND spellings and the KV version each means (what some reader takes)."""


def go_seconds(text: str) -> float:
    """The seconds of a Go duration that `GO_DURATION` matches."""
    return sum(
        float(number) * _UNITS[unit]
        for number, _, unit in re.findall(r"([0-9]+(\.[0-9]+)?)(ns|us|ms|s|m|h)", text)
    )


def client_timeout_seconds(text: str) -> float:
    """VAULT_CLIENT_TIMEOUT in seconds, as Vault's ``parseutil.ParseDurationSecond`` reads it:
    a whole number of seconds, or a Go duration."""
    return float(text) if text.isdigit() else go_seconds(text)


def _cooldown(text: str) -> bool:
    """libopenstorage/secrets takes ``0`` (off) or a duration over one minute, nothing else."""
    return text == "0" or go_seconds(text) > 60


@dataclass(frozen=True)
class Rule:
    """What one VAULT_* setting takes, who reads it, and what each reader makes of it."""

    name: str
    """The variable."""
    readers: frozenset[str]
    """Who reads it (`READERS`)."""
    takes: str = "a non-empty string"
    """What it takes, as errors and docs say it ("expected <takes>")."""
    pattern: str | None = None
    """The whole value must match (Python's ``re`` and ECMA-262 alike: the chart's schema uses
    it); None: any non-empty string."""
    check: Callable[[str], bool] | None = None
    """What the pattern cannot say (a minimum, a range); the chart's schema lacks it."""
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Reader -> the exact spellings it takes, for a setting that is one of a few words."""
    refused: Mapping[str, str] = field(default_factory=dict)
    """Value -> why no reader here may be given it (though some vendor knows the word)."""
    routes: bool = False
    """It says where requests go: a profile may set it only when every Vault client it feeds
    reads it (the injector talks to VAULT_ADDR only)."""

    def accepted(self, readers: Collection[str] | None = None) -> tuple[str, ...]:
        """The spellings every one of ``readers`` that has a say takes; when none has (or with
        None), those that some reader takes. Empty for a setting that is not one of a few
        words."""
        lists = [self.choices[r] for r in READERS if r in self.choices and r in (readers or ())]
        if not lists:  # none of them has a say: what some reader takes
            return tuple(dict.fromkeys(w for r in READERS for w in self.choices.get(r, ())))
        return tuple(w for w in lists[0] if all(w in other for other in lists))

    def expected(self, readers: Collection[str] | None = None) -> str:
        """What the setting takes for ``readers`` (None: some reader), as an error says it
        after "expected"."""
        accepted = self.accepted(readers)
        if not accepted:
            return self.takes
        words = ", ".join(accepted[:-1]) + " or " + accepted[-1] if accepted[1:] else accepted[0]
        who = [r for r in READERS if r in (readers or ()) and r in self.choices]
        if not who:
            return words
        return f"{words} (what {' and '.join(who)} take{'s' if len(who) == 1 else ''})"

    def problem(self, value: str, readers: Collection[str] | None = None) -> str | None:
        """Why ``value`` (trimmed, non-empty) is wrong for ``readers`` (None: for every reader
        but one that takes some choice), as ``expected ...`` or the refusal's reason; None when
        it is right."""
        if value in self.refused:
            return self.refused[value]
        accepted = self.accepted(readers)
        if accepted or self.choices:
            good = value in accepted
        else:
            good = (self.pattern is None or re.match(self.pattern, value) is not None) and (
                self.check is None or self.check(value)
            )
        return None if good else f"expected {self.expected(readers)}"


RULES: Final[Mapping[str, Rule]] = {
    rule.name: rule
    for rule in (
        Rule(
            names.VAULT_ADDR,
            ALL,
            "an http:// or https:// URL (host, a port 1-65535, a path; no user, query, fragment)",
            ADDR_PATTERN,
        ),
        Rule(names.VAULT_TOKEN, ALL, "a Vault token"),
        Rule(names.VAULT_BACKEND_PATH, ALL, "the KV mount path, e.g. secret (the default)"),
        Rule(
            names.VAULT_BACKEND,
            ALL,
            "the KV version",
            choices={
                PORTWORX: ("kv", "kv-v2"),
                ROOK: ("kv", "kv-v2", "v1", "v2"),
                INJECTOR: ("kv", "kv-v2", "v1", "v2"),
            },
        ),
        Rule(
            names.VAULT_SECRET_ENGINE,
            frozenset({ROOK, INJECTOR}),
            "kv",
            choices={ROOK: ("kv",), INJECTOR: ("kv",)},
            refused={
                "transit": "transit keeps keys inside Vault (Rook uses it for object stores); "
                "volume keys need kv"
            },
        ),
        Rule(names.VAULT_NAMESPACE, ALL, "a Vault namespace path, e.g. team1 or a/b"),
        Rule(names.VAULT_CACERT, ALL, "a file path (or, for Rook, the name of a Secret)"),
        Rule(names.VAULT_CAPATH, frozenset({PORTWORX, INJECTOR}), "a directory path"),
        Rule(names.VAULT_CLIENT_CERT, ALL, "a file path (or, for Rook, the name of a Secret)"),
        Rule(names.VAULT_CLIENT_KEY, ALL, "a file path (or, for Rook, the name of a Secret)"),
        Rule(names.VAULT_TLS_SERVER_NAME, ALL, "a DNS name"),
        Rule(names.VAULT_SKIP_VERIFY, ALL, values.GO_BOOL_EXPECTED, GO_BOOL_PATTERN),
        Rule(names.VAULT_AUTH_METHOD, ALL, "token, kubernetes or approle"),
        Rule(names.VAULT_AUTH_KUBERNETES_ROLE, ALL, "a Vault role name"),
        Rule(names.VAULT_AUTH_KUBERNETES_TOKEN_PATH, ALL, "a file path"),
        Rule(names.VAULT_AUTH_MOUNT_PATH, ALL, "an auth mount path, e.g. kubernetes"),
        Rule(names.VAULT_APPROLE_ROLE_ID, ALL, "an AppRole role_id"),
        Rule(names.VAULT_APPROLE_SECRET_ID, ALL, "an AppRole secret_id"),
        Rule(
            names.VAULT_CLIENT_TIMEOUT,
            ALL,
            "whole seconds or a Go duration, e.g. 30 or 1m30s",
            rf"^([0-9]+|{GO_DURATION})$",
        ),
        Rule(
            names.VAULT_MAX_RETRIES,
            ALL,
            f"a whole number from 0 to {MAX_UINT32}",
            r"^[0-9]{1,10}$",
            check=lambda text: int(text) <= MAX_UINT32,
        ),
        Rule(
            names.VAULT_BASE_PATH,
            frozenset({PORTWORX}),
            "a path under the KV mount, e.g. portworx",
            r"^[^\s/]+(/[^\s/]+)*$",
        ),
        Rule(
            names.VAULT_COOLDOWN_PERIOD,
            GO_CLIENT,
            "0 (off) or a Go duration over one minute, e.g. 5m",
            rf"^(0|{GO_DURATION})$",
            check=_cooldown,
        ),
        Rule(
            names.VAULT_RATE_LIMIT,
            GO_CLIENT,
            "requests per second, rate or rate:burst, e.g. 10 or 2.5:5",
            r"^[0-9]+(\.[0-9]+)?(:[0-9]+)?$",
        ),
        Rule(names.VAULT_SRV_LOOKUP, GO_CLIENT, values.GO_BOOL_EXPECTED, GO_BOOL_PATTERN),
        Rule(names.VAULT_AGENT_ADDR, GO_CLIENT, "a URL", URL_PATTERN, routes=True),
        Rule(names.VAULT_HTTP_PROXY, GO_CLIENT, "a URL", URL_PATTERN, routes=True),
        Rule(names.VAULT_PROXY_ADDR, GO_CLIENT, "a URL", URL_PATTERN, routes=True),
    )
}
"""Every VAULT_* setting of `vsi_common.names.ALL_SETTINGS`, in that order."""


def problem(name: str, value: str, readers: Collection[str] | None = None) -> str | None:
    """Why the trimmed ``value`` of ``name`` is wrong for ``readers`` (None: some reader), as
    ``expected ...`` or a refusal's reason; None when it is right or ``name`` has no rule."""
    rule = RULES.get(name)
    return None if rule is None else rule.problem(value, readers)


def allowed_for(name: str, readers: Collection[str]) -> bool:
    """Whether a profile whose Vault clients are ``readers`` may set ``name``: one of them
    reads it, and every one when it says where requests go."""
    rule = RULES[name]
    if rule.routes:
        return bool(readers) and all(r in rule.readers for r in readers)
    return any(r in rule.readers for r in readers)


INSECURE_SETTINGS: Final = (names.VAULT_ADDR, names.VAULT_SKIP_VERIFY)
"""The settings that can make a connection insecure: a plain ``http://`` VAULT_ADDR, or
VAULT_SKIP_VERIFY true (Go's spellings, which every reader takes)."""
PLAIN_HTTP: Final = "http://"
"""The scheme of a VAULT_ADDR that sends the token without TLS."""


def insecure_setting(settings: Mapping[str, str]) -> str | None:
    """The first setting of `INSECURE_SETTINGS` that turns TLS off or its verification off in
    ``settings``, None when neither does. A VAULT_SKIP_VERIFY no reader takes is not insecure
    here (its own rule refuses it)."""
    if settings.get(names.VAULT_ADDR, "").strip().lower().startswith(PLAIN_HTTP):
        return names.VAULT_ADDR
    skip = settings.get(names.VAULT_SKIP_VERIFY, "").strip()
    return names.VAULT_SKIP_VERIFY if skip in values.GO_TRUE_WORDS else None

"""Every request the injector makes to Vault, and the typed result each one has.

An `Endpoint` names a request (``KV v2 read``: ``GET <mount>/data/<path>``), the `Schema` of its
success and the refusals its caller takes as an answer instead of an error: a KV v2 read is
``Kv2Secret | NotFound``, a KV v2 create ``Kv2Created | Conflict | Denied``, a login just
``Login``. The session (`injector.vault.session`) returns exactly that union and raises a
one-line `VaultError` for everything else, so no caller looks at a status or a raw body. What a
reply means is the reply table's (`injector.vault.replies`). Pure: standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Generic, Never, TypeVar

from injector.vault import schemas
from injector.vault.schemas import Schema

T = TypeVar("T", covariant=True)
R = TypeVar("R", covariant=True)

MAX_REPLY: Final = 64 * 1024
"""Most bytes read of one reply: Vault's replies to the injector are a few hundred bytes."""
MAX_LISTING: Final = 1024 * 1024
"""Most bytes read of a ``sys/mounts`` listing (one entry per mount)."""


@dataclass(frozen=True)
class Refusal:
    """Vault's own "no" that a caller may take as an answer; its kind is its class."""

    status: int
    """The HTTP status, for messages."""
    reason: str
    """Vault's status and errors, redacted, on one line."""
    errors: tuple[str, ...] = ()
    """Vault's ``errors`` strings, redacted and bounded."""

    @property
    def summary(self) -> str:
        """Vault's errors on one line, else the status."""
        return "; ".join(self.errors) or str(self.status)


# The kinds share Refusal's fields; as plain subclasses they cost no dataclass of their own
# (equality still tells them apart: a dataclass compares only objects of one class).


class NotFound(Refusal):
    """Vault's own 404 to a read: there is no such secret (or mount)."""


class Conflict(Refusal):
    """Vault refused a ``cas=0`` create because the secret exists (someone else created it)."""


class Denied(Refusal):
    """Vault's own 401 or 403 (or a mount lookup's 400): the token or its policy says no."""


@dataclass(frozen=True, eq=False)
class Endpoint(Generic[T, R]):
    """One kind of request: what it is, what its success carries, which refusals it admits."""

    name: str
    """What the request is called in messages and in docs/injector.md (``KV v2 read``)."""
    request: str
    """Its method and path, as docs/injector.md shows it."""
    method: str
    """The HTTP method."""
    schema: Schema[T]
    """What a success carries."""
    refusals: tuple[type[R], ...] = ()
    """The refusals returned to the caller; any other outcome is a `VaultError`."""
    gone: Schema[T] | None = None
    """What Vault's 404 carries for a secret that exists without a value (deleted, destroyed)."""
    limit: int = MAX_REPLY
    """Most bytes of a reply read."""


LOGIN: Final[Endpoint[schemas.Login, Never]] = Endpoint(
    "login", "`POST auth/<mount>/login`", "POST", schemas.LOGIN
)
TOKEN_LOOKUP: Final[Endpoint[schemas.TokenInfo, Denied]] = Endpoint(
    "token lookup", "`GET auth/token/lookup-self`", "GET", schemas.TOKEN_INFO, (Denied,)
)
CAPABILITIES: Final[Endpoint[schemas.Capabilities, Never]] = Endpoint(
    "capabilities", "`POST sys/capabilities-self`", "POST", schemas.CAPABILITIES
)
MOUNT: Final[Endpoint[schemas.Mount, NotFound | Denied]] = Endpoint(
    "mount lookup",
    "`GET sys/internal/ui/mounts/<mount>/<path>`",
    "GET",
    schemas.MOUNT,
    (NotFound, Denied),
)
MOUNTS: Final[Endpoint[schemas.Mounts, Denied]] = Endpoint(
    "mount list", "`GET sys/mounts`", "GET", schemas.MOUNTS, (Denied,), limit=MAX_LISTING
)
KV1_READ: Final[Endpoint[schemas.Kv1Secret, NotFound]] = Endpoint(
    "KV v1 read", "`GET <mount>/<path>`", "GET", schemas.KV1_SECRET, (NotFound,)
)
KV1_WRITE: Final[Endpoint[schemas.Kv1Written, Denied]] = Endpoint(
    "KV v1 write", "`POST <mount>/<path>`", "POST", schemas.KV1_WRITTEN, (Denied,)
)
KV2_READ: Final[Endpoint[schemas.Kv2Secret, NotFound]] = Endpoint(
    "KV v2 read",
    "`GET <mount>/data/<path>`",
    "GET",
    schemas.KV2_SECRET,
    (NotFound,),
    gone=schemas.KV2_GONE,
)
KV2_CREATE: Final[Endpoint[schemas.Kv2Created, Conflict | Denied]] = Endpoint(
    "KV v2 create",
    "`POST <mount>/data/<path>` with `cas=0`",
    "POST",
    schemas.KV2_CREATED,
    (Conflict, Denied),
)
KV2_METADATA: Final[Endpoint[schemas.Kv2Metadata, NotFound]] = Endpoint(
    "KV v2 metadata", "`GET <mount>/metadata/<path>`", "GET", schemas.KV2_METADATA, (NotFound,)
)
KV2_CONFIG: Final[Endpoint[schemas.Kv2Config, Denied]] = Endpoint(
    "KV v2 config", "`GET <mount>/config` (`--check` only)", "GET", schemas.KV2_CONFIG, (Denied,)
)

ENDPOINTS: Final = (
    LOGIN,
    TOKEN_LOOKUP,
    CAPABILITIES,
    MOUNT,
    MOUNTS,
    KV1_READ,
    KV1_WRITE,
    KV2_READ,
    KV2_CREATE,
    KV2_METADATA,
    KV2_CONFIG,
)
"""Every endpoint, in the order docs/injector.md lists them."""

"""Personal data in an immutable log: which fields are personal, and how they are sealed.

**What is personal data here**: a user's e-mail address and username (``UserRegistered.email``,
``UserRegistered.username``, ``UserChanged.changes.username`` and ``.email``, MyEMS' display
name) — the fields that identify a natural person — and the location of a *private* asset, e.g.
a charger at a home (coordinates and address fields, rule and key in
:mod:`domain.private_locations`). Users are otherwise referred to by their integer id
(``actor: "user:5"``), a pseudonym. Accounts, other assets (with their locations), sensors, EVs
and readings belong to accounts (organisations), not to persons, and are not sealed. The e-mail
uniqueness stream is named by a keyed hash of the address (:func:`email_streams`), never by the
address itself.

**Sealing** (crypto-shredding): each personal field is stored encrypted with its subject's
data key (one key per user, subject ``user-<id>``; one per account for private locations,
subject ``account-<id>``), kept in a key store outside the event store
(:class:`domain.ports.personal_keys.PersonalDataKeys`). A sealed value is a string
``"pii:v1:<base64url(nonce | ciphertext)>"`` (AES-256-GCM, the subject and field path as
associated data), so an event's stored JSON keeps its shape and the hash chain
(:mod:`domain.audit_chain`) covers the ciphertext. Forgetting a user (:class:`UserForgotten`)
or an account (:class:`domain.private_locations.AccountForgotten`) destroys the key: the stored
events are unchanged, the chain still verifies, replays still run, and the fields read as
:data:`ERASED` everywhere (read models, history, streams, exports) — coordinates as ``None``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from copy import deepcopy
from typing import Any

from domain import private_locations as loc
from domain.events import DomainEvent, register_event

ERASED = loc.ERASED_TEXT
"""What a personal field reads as once its subject's key is destroyed."""
SEALED_PREFIX = "pii:v1:"
SUBJECT_PREFIX = "user-"


def _user_subject(data: dict[str, Any]) -> str | None:
    return f"{SUBJECT_PREFIX}{data['user_id']}" if "user_id" in data else None


PERSONAL_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "UserRegistered": (("email",), ("username",)),
    "UserChanged": (("changes", "username"), ("changes", "email")),
    "MyEmsUserProfileSet": (("display_name",),),
    "AssetRegistered": loc.LOCATION_PATHS,
    "AssetChanged": tuple(("changes", *path) for path in loc.LOCATION_PATHS),
}
"""Event type -> paths (into the event's data) of its personal fields (when it has a subject)."""
_SUBJECTS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "UserRegistered": _user_subject,
    "UserChanged": _user_subject,
    "MyEmsUserProfileSet": _user_subject,
    "AssetRegistered": loc.asset_registered_subject,
    "AssetChanged": loc.asset_changed_subject,
}
"""Event type -> its data subject (``None``: nothing to seal in this event, e.g. a non-private asset)."""

Seal = Callable[[str, str, Any], str]
"""``seal(subject, path, value) -> sealed string``."""
Unseal = Callable[[str, str, str], Any]
"""``unseal(subject, path, sealed) -> value``, :data:`ERASED` when the key is gone."""


@register_event
class UserForgotten(DomainEvent):
    """The user's personal data was crypto-shredded: its key is destroyed, the user removed.

    Appended to the user's stream before the key is deleted; read models drop the user."""

    user_id: int


@register_event
class EmailReleased(DomainEvent):
    """The e-mail address of a forgotten user may be registered again (in its uniqueness stream)."""

    user_id: int


def subject_of(event_type: str, data: dict[str, Any]) -> str | None:
    """The data subject of an event with personal fields (``user-<id>``, ``account-<id>``), else ``None``."""
    subject = _SUBJECTS.get(event_type)
    return None if subject is None else subject(data)


_ERASED_AS: dict[str, Callable[[str], Any]] = {"AssetRegistered": loc.erased_value, "AssetChanged": loc.erased_value}


def _erased(event_type: str, path: str) -> Any:
    """What a field reads as without its key: :data:`ERASED`, ``None`` for an asset's coordinates."""
    erased_as = _ERASED_AS.get(event_type)
    return ERASED if erased_as is None else erased_as(path)


def subject_of_user(user_id: int) -> str:
    return f"{SUBJECT_PREFIX}{user_id}"


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def _paths(event_type: str, data: dict[str, Any]) -> Iterable[tuple[dict, str, str]]:
    """(container dict, key, dotted path) of each personal field present in ``data``."""
    for path in PERSONAL_FIELDS.get(event_type, ()):
        container: Any = data
        for part in path[:-1]:
            container = container.get(part) if isinstance(container, dict) else None
        if isinstance(container, dict) and path[-1] in container:
            yield container, path[-1], ".".join(path)


def seal_data(event_type: str, data: dict[str, Any], seal: Seal) -> dict[str, Any]:
    """``data`` with its personal fields sealed (a copy; already sealed fields stay as they are)."""
    subject = subject_of(event_type, data)
    if subject is None:
        return data
    sealed = deepcopy(data)
    for container, key, path in _paths(event_type, sealed):
        if container[key] is not None and not is_sealed(container[key]):  # a null says nothing: kept
            value = seal(subject, path, container[key])
            container[key] = _erased(event_type, path) if value == ERASED else value  # the key is gone
    return sealed


def unseal_data(event_type: str, data: dict[str, Any], unseal: Unseal) -> dict[str, Any]:
    """``data`` with its sealed personal fields opened (or :data:`ERASED`); a copy when changed."""
    subject = subject_of(event_type, data)
    if subject is None:
        return data
    opened = deepcopy(data)
    for container, key, path in _paths(event_type, opened):
        if is_sealed(container[key]):
            value = unseal(subject, path, container[key])
            container[key] = _erased(event_type, path) if value == ERASED else value
    return opened


def has_personal_fields(event_type: str) -> bool:
    return event_type in PERSONAL_FIELDS


def email_streams(store: Any, email: str) -> tuple[str, str]:
    """(the e-mail uniqueness stream of an address, its legacy name).

    The stream is named by a keyed hash of the lower-cased address: the sealing store's
    ``pseudonym`` (HMAC-SHA256 under a platform key, see :mod:`infra.personal_keys`), else a
    plain SHA-256 (stores without sealing, e.g. tests). Stores written before this change
    named it ``useremail-<address>``: the legacy name, still checked for duplicates."""
    address = email.lower()
    pseudonym = getattr(store, "pseudonym", None)
    digest = pseudonym(address) if pseudonym is not None else hashlib.sha256(address.encode()).hexdigest()
    return f"useremail-{digest}", f"useremail-{address}"


def stored_form(store: Any) -> Any:
    """The event store as stored (personal fields sealed): a sealing decorator's ``sealed`` store,
    else ``store`` itself. The hash chain, checkpoints and exports read this form."""
    return getattr(store, "sealed", store)

"""Locations of private assets (e.g. a charger at someone's home) are personal data.

**The rule** (one a user can see and set): an asset is *private* when its ``attributes`` hold
``"private": true`` (:data:`PRIVATE_ATTRIBUTE`; set it on registration or with a PATCH, in any
API that writes attributes). Meant for chargers at homes (``one-way_evse``, ``two-way_evse``,
``charge_site``), it applies to any asset type: the location of any household asset points
at a person. Each asset is flagged on its own (a child does not inherit its parent's flag).

**What is sealed** in ``AssetRegistered`` / ``AssetChanged.changes`` of a private asset
(:data:`LOCATION_PATHS`): ``latitude``, ``longitude`` (degrees) and the address fields that
the wire formats expose: ``attributes.address`` (Realto's ``location.address``) and
``attributes.myems.address`` / ``attributes.myems.postal_code`` (MyEMS sites). FINESCE views
show no location. Whether an ``AssetChanged`` is private is decided by the command, from
the asset's state after the change, and written in the event (``private_account_id``).

**Whose key**: the asset's *account* (subject ``account-<id>``), not a user: assets belong
to accounts, an account has no single owning user in this model, and users come and go
while the household (the account) and its charger stay. Forgetting the account
(:class:`AccountForgotten`) destroys that key: the coordinates read as ``null`` (they are
numbers, and ``null`` is what every view shows for an asset without a location) and the
address fields as ``"[erased]"`` (text, like a forgotten e-mail address).

Marking an asset private seals the locations written from then on; locations recorded
while it was not private stay readable in history (flag a home charger when registering it).
The flag sticks (:func:`private_flag_changes`): a change that replaces the attributes without
the key keeps it; only ``"private": false`` clears it, and that change writes the asset's
current coordinates in the clear (its location is no longer personal), so a rebuild after
the account is forgotten reads the same location as the live read model.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from typing import Any

from domain.events import DomainEvent, register_event

PRIVATE_ATTRIBUTE = "private"
ACCOUNT_SUBJECT_PREFIX = "account-"
COORDINATES = ("latitude", "longitude")
LOCATION_PATHS: tuple[tuple[str, ...], ...] = (
    ("latitude",),
    ("longitude",),
    ("attributes", "address"),
    ("attributes", "myems", "address"),
    ("attributes", "myems", "postal_code"),
)
"""Paths (into an asset's registration data) of a private asset's location fields."""
ERASED_TEXT = "[erased]"
"""What an erased personal text reads as (:data:`domain.personal_data.ERASED` is this; defined here,
which :mod:`domain.personal_data` imports, so that neither module imports the other in a cycle)."""


@register_event
class AccountForgotten(DomainEvent):
    """The account's personal data (the locations of its private assets) was crypto-shredded.

    Appended to the account's stream before its key is destroyed; the account, its assets and
    their readings stay, the private assets' locations read as erased."""

    account_id: int


def is_private(attributes: Any) -> bool:
    """Whether an asset with these ``attributes`` is private (``"private": true``)."""
    return isinstance(attributes, Mapping) and attributes.get(PRIVATE_ATTRIBUTE) is True


def subject_of_account(account_id: int) -> str:
    return f"{ACCOUNT_SUBJECT_PREFIX}{account_id}"


def asset_registered_subject(data: Mapping[str, Any]) -> str | None:
    """The owning account's subject when the registered asset is private, else ``None``."""
    if not is_private(data.get("attributes")) or data.get("account_id") is None:
        return None
    return subject_of_account(data["account_id"])


def asset_changed_subject(data: Mapping[str, Any]) -> str | None:
    """The owning account's subject when the changed asset is private after the change."""
    account_id = data.get("private_account_id")
    return None if account_id is None else subject_of_account(account_id)


def private_flag_changes(
    attributes: Mapping[str, Any], coordinates: Mapping[str, float | None], changes: dict[str, Any]
) -> dict[str, Any]:
    """``changes`` to an asset with these ``attributes`` and ``coordinates`` (``latitude``,
    ``longitude``), as the rule wants them (see the module docstring): the private flag kept
    when new attributes leave it out; the current coordinates added when it is cleared."""
    if not is_private(attributes):
        return changes
    new_attributes = changes.get("attributes")
    if isinstance(new_attributes, Mapping) and PRIVATE_ATTRIBUTE not in new_attributes:
        return {**changes, "attributes": {**new_attributes, PRIVATE_ATTRIBUTE: True}}
    if new_attributes is None or is_private(new_attributes):
        return changes
    kept = {name: value for name, value in coordinates.items() if name in COORDINATES and value is not None}
    return {**kept, **changes}


def erased_value(path: str) -> Any:
    """What a location field reads as once its key is gone: ``None`` for coordinates, else erased text."""
    return None if path.rsplit(".", 1)[-1] in COORDINATES else ERASED_TEXT


def erased_location(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Column values of a private asset whose account was forgotten: no coordinates, and the
    address fields present in ``attributes`` erased (the others left as they are)."""
    erased = deepcopy(dict(attributes or {}))
    for path in LOCATION_PATHS[2:]:
        container: Any = erased
        for part in path[1:-1]:
            container = container.get(part) if isinstance(container, dict) else None
        if isinstance(container, dict) and container.get(path[-1]) is not None:
            container[path[-1]] = ERASED_TEXT
    return {"latitude": None, "longitude": None, "attributes": erased}

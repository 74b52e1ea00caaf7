"""USEF EA1 entity addresses of connections, as FlexMeasures API v2.0 uses them (docs 14.4.2).

A connection address is ``ea1.<date code>.<reversed domain name>:<owner id>:<asset id>``, e.g.
``ea1.2026-11.io.flexledger:3:17``:

* ``ea1`` — a type 1 USEF entity address;
* the date code ``YYYY-MM`` and the reversed domain name form the naming authority;
* the owner id is optional. In flexledger assets belong to accounts, so the owner id is the
  asset's **account id** (FlexMeasures 0.4 used the owning user's id). When given, it must match.
* the asset id identifies the asset (and through it, its power sensor).

As FlexMeasures, any well-formed naming authority is accepted when parsing (clients may keep
addresses that name another host); addresses built here use :data:`NAMING_AUTHORITY`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from api.routers.v3_sensors import ENTITY_ADDRESS_AUTHORITY
from api.validation import MAX_ID

ADDR_SCHEME = "ea1"
NAMING_AUTHORITY = ENTITY_ADDRESS_AUTHORITY.removeprefix(f"{ADDR_SCHEME}.")
EXAMPLE = f"{ADDR_SCHEME}.{NAMING_AUTHORITY}:<owner id>:<asset id>"

_CONNECTION = re.compile(
    r"^ea1\."
    r"(?P<naming_authority>(?P<year>\d{4})-(?P<month>\d{2})\.[^:\s]+)"
    r":(?:(?P<owner_id>\d{1,19}):)?"
    r"(?P<asset_id>\d{1,19})$"
)


class EntityAddressError(ValueError):
    """The text is not a valid EA1 connection address (API code ``INVALID_DOMAIN``)."""


@dataclass(frozen=True)
class ConnectionAddress:
    naming_authority: str
    owner_id: int | None
    asset_id: int


def parse_connection(address: object) -> ConnectionAddress:
    """Parse ``ea1.<YYYY-MM>.<reversed domain>:[<owner id>:]<asset id>``; raises :class:`EntityAddressError`."""
    if not isinstance(address, str):
        raise EntityAddressError(f"a connection must be a string such as {EXAMPLE!r}, not {address!r}")
    if not address.startswith(f"{ADDR_SCHEME}."):
        raise EntityAddressError(
            f"A valid type 1 USEF entity address starts with '{ADDR_SCHEME}.', please review {address!r}"
        )
    if not re.match(r"^ea1\.\d{4}-\d{2}\.", address):
        raise EntityAddressError(f"After '{ADDR_SCHEME}.', a date code of the format YYYY-MM is expected: {address!r}")
    match = _CONNECTION.match(address)
    if match is None:
        raise EntityAddressError(f"Could not parse {address!r} as a connection ({EXAMPLE})")
    if not 1 <= int(match["month"]) <= 12:
        raise EntityAddressError(f"The month of the date code in {address!r} should be 01 to 12")
    owner = None if match["owner_id"] is None else int(match["owner_id"])
    asset = int(match["asset_id"])
    if not all(1 <= i <= MAX_ID for i in (asset, owner or 1)):
        raise EntityAddressError(f"The owner and asset ids in {address!r} should be integers from 1 to {MAX_ID}")
    return ConnectionAddress(match["naming_authority"], owner, asset)


def build_connection(account_id: int, asset_id: int) -> str:
    """The address of an asset as a connection, with its account as owner."""
    return f"{ADDR_SCHEME}.{NAMING_AUTHORITY}:{account_id}:{asset_id}"

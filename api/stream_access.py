"""Who may see which events (history, subscriptions): one small function, swappable.

The ownership rule itself is :mod:`domain.disclosure`; this module binds it to the API's
user: a user sees the events of its own account, admins and auditors see all events.
(When the project's central authorisation module lands, :func:`event_visibility` delegates to it.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends

from api.auth import CurrentUser
from api.deps import PlatformDep
from domain.disclosure import OwnershipResolver, StreamOwner, may_see
from domain.events import RecordedEvent

_lock = threading.Lock()


def ownership_resolver(platform: PlatformDep) -> OwnershipResolver:
    """The platform's one (caching) ownership resolver, created on first use."""
    with _lock:
        resolver = getattr(platform, "_ownership_resolver", None)
        if resolver is None:
            resolver = OwnershipResolver(platform.store)
            platform._ownership_resolver = resolver  # noqa: SLF001 - a lazily created cache
        return resolver


Resolver = Annotated[OwnershipResolver, Depends(ownership_resolver)]


def may_see_owner(user: CurrentUser, owner: StreamOwner) -> bool:
    """The authorisation decision for reading events of ``owner``'s streams."""
    return may_see(owner, user.account_id, user.can_read_all)


def event_visibility(user: CurrentUser, resolver: OwnershipResolver) -> Callable[[RecordedEvent], bool]:
    """A predicate: may ``user`` see this event?"""
    return lambda event: may_see_owner(user, resolver.owner_of(event))

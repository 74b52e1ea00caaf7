"""MyEMS cost centers (issue 14): a cost center is the platform account that pays.

Its name is the account's (renamed through ``AccountChanged``); what MyEMS adds lives in stream
``myemscostcenter-<account id>``: the ``external_id`` (an ERP/SAP id) and which tariffs are bound
to the cost center. A tariff is defined within an account and is bound to that account's cost
center from its definition on (the read model binds it on ``MyEmsTariffDefined``); unbinding
takes it out of the cost center's cost reports (it stays a tariff a flex-context may name), and
binding it again puts it back. Only a tariff of the cost center's own account can be bound.
"""

from __future__ import annotations

from domain.events import DomainEvent, register_event


def cost_center_stream(account_id: int) -> str:
    return f"myemscostcenter-{account_id}"


@register_event
class MyEmsCostCenterExternalIdSet(DomainEvent):
    """The cost center's external id (``None``: none)."""

    account_id: int
    external_id: str | None


@register_event
class MyEmsCostCenterTariffBound(DomainEvent):
    account_id: int
    tariff_id: int


@register_event
class MyEmsCostCenterTariffUnbound(DomainEvent):
    account_id: int
    tariff_id: int


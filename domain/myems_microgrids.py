"""MyEMS microgrids over the platform's assets.

A microgrid is a site asset (type ``microgrid``) whose MyEMS-only fields live in its attributes
under ``"myems"``; its devices (batteries, EV chargers, PV, grids, loads, generators, heat pumps,
power conversion systems) are child assets with a ``power`` sensor each (kW; consumption
positive, production negative), so the platform's scheduler plans them like any site.

The microgrid's flex-context: its ``capacity`` (kW) is the site power capacity and, when it names
a tariff (``tariff_id``, flexledger's extension), that tariff is its consumption price.
Battery capacity is energy (kWh); every other device's capacity is power (kW).
"""

from __future__ import annotations

from dataclasses import dataclass

ARCHITECTURE_TYPES = {1: "AC", 2: "DC", 3: "AC/DC hybrid"}
OWNER_TYPES = {1: "Residential", 2: "Commercial", 3: "Industrial", 4: "Public"}
MICROGRID_FIELDS = ("uuid", "address", "postal_code", "capacity", "architecture_type_id", "owner_type_id",
                    "is_input_counted", "is_output_counted", "contact_id", "svg", "description", "tariff_id")


@dataclass(frozen=True)
class DeviceFamily:
    """One MyEMS microgrid device family: its paths, the platform asset type, its point and meter fields."""

    family: str  # /microgrid<family>, e.g. "batteries"
    child_path: str  # /microgrids/{id}/<child_path>
    asset_type: str
    points: tuple[str, ...] = ("power_point_id",)
    meters: tuple[str, ...] = ("meter_id",)


FAMILIES = {
    f.family: f
    for f in (
        DeviceFamily("batteries", "batteries", "battery", ("battery_state_point_id", "soc_point_id", "power_point_id"),
                     ("charge_meter_id", "discharge_meter_id")),
        DeviceFamily("evchargers", "evchargers", "one-way_evse"),
        DeviceFamily("generators", "generators", "generator"),
        DeviceFamily("grids", "grids", "grid_connection", ("power_point_id",), ("buy_meter_id", "sell_meter_id")),
        DeviceFamily("heatpumps", "heatpumps", "heat_pump", ("power_point_id",),
                     ("electricity_meter_id", "heat_meter_id", "cooling_meter_id")),
        DeviceFamily("loads", "loads", "building"),
        DeviceFamily("photovoltaics", "photovoltaics", "solar"),
        DeviceFamily("powerconversionsystems", "powerconversionsystems", "power_conversion_system",
                     ("run_state_point_id",), ()),
    )
}


def device_flex_model(family: DeviceFamily, capacity: float) -> dict:
    """The stored flex-model of a schedulable device (batteries: kWh, chargers: kW); ``{}`` otherwise."""
    if family.asset_type == "battery":
        return {"soc-min": "0 kWh", "soc-max": f"{capacity} kWh", "power-capacity": f"{capacity} kW"}
    if family.asset_type == "one-way_evse":
        return {"consumption-capacity": f"{capacity} kW", "production-capacity": "0 kW"}
    return {}


def microgrid_flex_context(capacity_kw: float, tariff_id: int | None) -> dict:
    context: dict = {"site-power-capacity": f"{capacity_kw} kW"}
    if tariff_id is not None:
        context["consumption-price"] = {"tariff": tariff_id}
    return context

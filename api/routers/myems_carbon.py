"""Carbon of the MyEMS storage reports (issue 14): the emission factor or a carbon-intensity sensor.

A report's carbon comes from ``kgco2eperkwh`` (kg CO2e per kWh; default the energy category's,
0.8), or, where configured, from a carbon-intensity sensor of the caller's account (unit a mass per
energy: ``g/kWh``, ``kg/MWh``, ...): the station's ``carbon_intensity_sensor_id`` (flexledger's
extension of the station body), else the report's ``carbonintensitysensorid`` parameter (also
flexledger's). Its readings (latest belief per interval) multiply the energy of each interval
(:mod:`domain.myems_carbon`); intervals no reading covers take the emission factor.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from api.auth import CurrentUser
from api.errors import ApiError
from api.routers.myems_assets import myems_attrs
from domain import myems_carbon as mc
from domain import myems_meters as mm
from domain.units import UnitError
from projections import readings_query as rdq
from projections import registry_query as rq

FIELD = "carbonintensitysensorid"
STATION_FIELD = "carbon_intensity_sensor_id"


def emission_factor(kgco2eperkwh: float | None) -> float:
    """kg CO2e per kWh: ``kgco2eperkwh`` or the electricity category's; 400 outside 0 to 100."""
    factor = mm.ENERGY_CATEGORIES[mm.ELECTRICITY]["kgco2e"] if kgco2eperkwh is None else kgco2eperkwh
    if not 0 <= factor < 100:
        raise ApiError(400, "API.INVALID_EMISSION_FACTOR", "kgco2eperkwh: 0 to 100 kgCO2e per kWh", "kgco2eperkwh")
    return factor


def intensity_sensor(conn: sa.Connection, account_id: int, sensor_id: int, field: str) -> dict:
    """The account's carbon-intensity sensor ``sensor_id``: 404 when it is not the account's, 400 when
    its unit is not a mass per energy."""
    sensor = rq.sensor_by_id(conn, sensor_id)
    asset = rq.asset_by_id(conn, sensor["asset_id"]) if sensor is not None else None
    if asset is None or asset["account_id"] != account_id:
        raise ApiError(404, "API.CARBON_INTENSITY_SENSOR_NOT_FOUND", f"no sensor {sensor_id} of the account", field)
    try:
        mc.kg_per_kwh_factor(sensor["unit"])
    except UnitError as exc:
        raise ApiError(
            400, "API.INVALID_CARBON_INTENSITY_SENSOR_UNIT",
            f"sensor {sensor_id} is in {sensor['unit']!r}, not a mass per energy (g/kWh, kg/MWh)", field,
        ) from exc  # fmt: skip
    return sensor


def check_station_sensor(conn: sa.Connection, user: CurrentUser, data) -> None:
    """A station body's ``carbon_intensity_sensor_id``, when given, names a sensor the reports can use."""
    sensor_id = getattr(data, STATION_FIELD, None)
    if sensor_id is not None:
        intensity_sensor(conn, user.account_id, sensor_id, STATION_FIELD)


def intensity_for(
    conn: sa.Connection, station: dict, sensor_id: int | None, start: datetime, end: datetime
) -> mc.CarbonIntensity | None:
    """The readings (kg CO2e per kWh) of the station's carbon-intensity sensor, else of ``sensor_id``
    (the report's parameter), over [start, end); ``None`` when neither is configured."""
    configured = myems_attrs(station).get(STATION_FIELD)
    chosen, field = (configured, STATION_FIELD) if configured is not None else (sensor_id, FIELD)
    if chosen is None:
        return None
    return intensity_readings(intensity_sensor(conn, station["account_id"], chosen, field), start, end, conn)


def intensity_readings(sensor: dict, start: datetime, end: datetime, conn: sa.Connection) -> mc.CarbonIntensity:
    """A carbon-intensity sensor's readings over [start, end) in kg CO2e per kWh (latest beliefs)."""
    factor = mc.kg_per_kwh_factor(sensor["unit"])
    resolution_s = sensor["event_resolution_s"]
    first = int(start.timestamp()) - max(resolution_s, 0)  # a reading that began before the start covers it
    values = rdq.latest_values(conn, sensor["id"], first, int(end.timestamp()), rdq.MEASURED)
    return mc.CarbonIntensity({s: v * factor for s, v in values.items()}, resolution_s)


def carbon_of_energy(
    conn: sa.Connection, account_id: int, sensor_id: int | None, values_kwh: list[tuple[int, float]],
    resolution_s: int, period: tuple[datetime, datetime] | None,
) -> float | None:
    """kg CO2e of a meter's energy values in ``period`` from the report's ``carbonintensitysensorid``
    (``None`` without one: the report keeps the category's emission factor)."""
    if sensor_id is None or period is None:
        return None
    intensity = intensity_readings(intensity_sensor(conn, account_id, sensor_id, FIELD), *period, conn)
    return mc.energy_kg(values_kwh, resolution_s, emission_factor(None), intensity)

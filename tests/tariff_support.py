"""A time-of-use tariff shared by the tariff tests (issue 14): 0.1 EUR/kWh from 00:00 to 07:00 and
0.3 EUR/kWh from 07:00 to 24:00 Amsterdam time, valid over the spring DST change of 2024."""

from __future__ import annotations

from domain import tariffs as tf


def tou_tariff(**overrides) -> tf.TariffDefinition:
    """The tariff, with ``overrides`` replacing its fields."""
    return tf.TariffDefinition.model_validate(
        {
            "name": "tou",
            "tariff_type": "timeofuse",
            "unit_of_price": "EUR/kWh",
            "timezone": "Europe/Amsterdam",
            "valid_from": "2024-03-30T00:00:00",
            "valid_through": "2024-04-02T00:00:00",
            "timeofuse": [
                {"start_time_of_day": "00:00:00", "end_time_of_day": "06:59:59", "peak_type": "offpeak", "price": 0.1},
                {"start_time_of_day": "07:00:00", "end_time_of_day": "23:59:59", "peak_type": "onpeak", "price": 0.3},
            ],
            **overrides,
        }
    )

"""A forecast as the forecaster returns it, and the lazy mappings it carries. Pure.

Values are in the unit of the readings (consumption positive, production negative, USEF).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np


@dataclass(frozen=True, slots=True)
class Forecast:
    """Forecast of ``len(values)`` slots from ``now_start`` (belief time), in the readings' unit.

    ``values[k]`` is for the slot starting ``now_start + k * resolution`` (horizon
    ``(k + 1) * resolution``); ``selected[k]`` names the model that served it (``"ensemble"``
    when combined); ``per_model`` holds every model's values; ``weights`` the ensemble weights
    per horizon bucket label and model.
    """

    now_start: datetime
    resolution: timedelta
    values: tuple[float, ...]
    selected: tuple[str, ...]
    per_model: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    weights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @property
    def event_starts(self) -> list[datetime]:
        return [self.now_start + k * self.resolution for k in range(len(self.values))]


class ModelValues(Mapping):
    """``Forecast.per_model``: model name -> its values (a tuple), read from the forecast's table."""

    __slots__ = ("_names", "_table")

    def __init__(self, names: Sequence[str], table: np.ndarray) -> None:
        self._names = tuple(names)
        self._table = table

    def __getitem__(self, name: str) -> tuple[float, ...]:
        try:
            row = self._names.index(name)
        except ValueError:
            raise KeyError(name) from None
        return tuple(self._table[row].tolist())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return repr(dict(self))


class BucketWeights(Mapping):
    """``Forecast.weights``: bucket label -> {model: ensemble weight}, for the forecast's buckets."""

    __slots__ = ("_labels", "_names", "_rows")

    def __init__(self, labels: Mapping[str, int], names: tuple[str, ...], rows: np.ndarray) -> None:
        self._labels = labels  # label -> bucket (row of ``rows``), for the forecast's buckets (not mutated)
        self._names = names
        self._rows = rows  # buckets x models (never mutated: replaced when the weights change)

    def __getitem__(self, label: str) -> dict[str, float]:
        return dict(zip(self._names, self._rows[self._labels[label]].tolist(), strict=True))

    def __iter__(self) -> Iterator[str]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def __repr__(self) -> str:
        return repr(dict(self))

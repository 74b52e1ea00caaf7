"""Value scaling and transforms of the lag model: :class:`SeriesScaler` (running mean and
deviation that freeze once settled) and :data:`TRANSFORMS` (``sqrt``, ``log1p``), on floats
and on arrays. Pure, deterministic; values in the unit of the readings.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from river import stats


class SeriesScaler:
    """Running mean and standard deviation (River ``stats.Var``) that freeze once settled.

    It learns from the first ``freeze_after`` values (and on, while the deviation is still 0),
    then stays fixed, so the scaled features a model has accumulated keep one meaning.
    """

    __slots__ = ("var", "freeze_after", "shift", "scale", "frozen")

    def __init__(self, freeze_after: int) -> None:
        self.var = stats.Var()
        self.freeze_after = freeze_after
        self.shift = 0.0
        self.scale = 1.0
        self.frozen = False

    def learn(self, value: float) -> None:
        if self.frozen:
            return
        self.var.update(value)
        std = math.sqrt(self.var.get()) if self.var.n > 1 else 0.0
        self.shift = self.var.mean.get()
        self.scale = 1.0 / std if std > 0.0 else 1.0
        self.frozen = self.var.n >= self.freeze_after and std > 0.0

    def __getstate__(self) -> tuple[Any, ...]:
        return self.var, self.freeze_after, self.shift, self.scale, self.frozen

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.var, self.freeze_after, self.shift, self.scale, self.frozen = state


def _sqrt(value: float) -> float:
    return math.sqrt(value) if value > 0.0 else 0.0


def _square(value: float) -> float:
    return value * value if value > 0.0 else 0.0


def _identity(value: float) -> float:
    return value


def _log1p(value: float) -> float:
    return math.log1p(value) if value > 0.0 else 0.0


def _expm1(value: float) -> float:
    return math.expm1(min(value, 700.0)) if value > 0.0 else 0.0


TRANSFORMS = {None: (_identity, _identity), "sqrt": (_sqrt, _square), "log1p": (_log1p, _expm1)}
"""Value transforms of the lag model: name -> (forward, inverse). ``sqrt`` suits spiky loads >= 0."""


def inverse_array(transform: str | None, values: np.ndarray) -> np.ndarray:
    """The inverse transform of :data:`TRANSFORMS`, in place (NaN and values <= 0 give 0.0, as there)."""
    if transform is None:
        return values
    np.fmax(values, 0.0, out=values)  # fmax: NaN gives 0.0
    if transform == "sqrt":
        values *= values
    else:
        np.minimum(values, 700.0, out=values)
        np.expm1(values, out=values)
    return values

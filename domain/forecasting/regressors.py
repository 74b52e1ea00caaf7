"""The regressors of the lag model (one per horizon bucket): exact online ridge regression
(the default; :class:`RidgeBank` holds one per bucket as arrays, :class:`OnlineRidge` is the
same model over dict samples, the reference the bank is tested against) and River's adaptive
Hoeffding tree. Pure, deterministic."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import repeat
from operator import mul

import numpy as np
from river import tree

from domain.forecasting.lag_kernels import ridge_learn


def tree_regressor() -> tree.HoeffdingAdaptiveTreeRegressor:
    """River's adaptive Hoeffding tree (deterministic: fixed seed). Measured on the ACN data as
    ``lag_tree``: +0.005 1-WAPE at 24-48 h in the ensemble, none at 1 h, three times the CPU:
    available, not a default model."""
    return tree.HoeffdingAdaptiveTreeRegressor(grace_period=100, leaf_prediction="adaptive", seed=1)


class OnlineRidge:
    """Exact online ridge regression: the posterior mean of Bayesian linear regression with
    prior precision ``alpha`` and noise precision ``beta`` (River's ``BayesianLinearRegression``
    without its predictive distribution), the inverse precision kept by Sherman-Morrison rank-1
    updates. The coefficients are cached between updates, so forecasting 48 steps costs 48 dot
    products over dicts, not 48 vector conversions. Features missing from a sample count as 0;
    an unseen feature extends the model (prior: coefficient 0). Deterministic."""

    __slots__ = ("alpha", "beta", "index", "inverse", "eta", "_coefficients", "_order")

    def __init__(self, alpha: float = 1.0, beta: float = 1.0) -> None:
        self.alpha, self.beta = alpha, beta
        self.index: dict[str, int] = {}
        self.inverse = np.zeros((0, 0))
        self.eta = np.zeros(0)
        self._coefficients: dict[str, float] | None = {}
        self._order: tuple[tuple[str, ...], np.ndarray] | None = None  # last sample's keys -> their indices

    def _vector(self, x: Mapping[str, float]) -> np.ndarray:
        index = self.index
        new = [key for key in x if key not in index]
        if new:
            n, grown = len(index), len(index) + len(new)
            for key in new:
                index[key] = len(index)
            inverse = np.eye(grown) / self.alpha
            inverse[:n, :n] = self.inverse
            self.inverse, self.eta = inverse, np.concatenate([self.eta, np.zeros(grown - n)])
            self._order = None
        keys = tuple(x)
        if self._order is None or self._order[0] != keys:
            self._order = keys, np.fromiter((index[key] for key in keys), dtype=np.intp, count=len(keys))
        vector = np.zeros(len(index))
        vector[self._order[1]] = np.fromiter(x.values(), dtype=float, count=len(keys))
        return vector

    def learn_one(self, x: Mapping[str, float], y: float) -> None:
        v = self._vector(x)
        pv = self.inverse @ v
        update = np.multiply.outer(pv, pv)  # np.outer(pv, pv) * factor, without a second temporary
        update *= self.beta / (1.0 + self.beta * float(v @ pv))
        self.inverse -= update
        self.eta += (self.beta * y) * v
        self._coefficients = None

    def coefficients(self) -> dict[str, float]:
        if self._coefficients is None:
            # the index numbers the keys in insertion order: key i has coefficient mean[i]
            self._coefficients = dict(zip(self.index, (self.inverse @ self.eta).tolist(), strict=True))
        return self._coefficients

    def predict_one(self, x: Mapping[str, float]) -> float:
        weights = self.coefficients()  # the sum runs in the sample's key order, as a generator over items would
        return float(sum(map(mul, map(weights.get, x, repeat(0.0)), x.values())))

    def __getstate__(self) -> tuple:
        return self.alpha, self.beta, self.index, self.inverse, self.eta

    def __setstate__(self, state: tuple) -> None:
        self.alpha, self.beta, self.index, self.inverse, self.eta = state
        self._coefficients, self._order = None, None


class RidgeBank:
    """``count`` independent :class:`OnlineRidge` models (one per horizon bucket) over the same
    ``size`` features in a fixed order, as arrays: the inverse precisions ``(count, size, size)``
    (symmetric: only the lower triangle of each is kept up to date, the rest stays as it
    started) and the coefficients ``w = inverse @ eta`` ``(count, size)`` (``eta``: the
    precision-weighted targets of :class:`OnlineRidge`). Samples are rows of a float matrix.

    An update is the exact Sherman-Morrison rank-1 update of :class:`OnlineRidge`, done in
    place on the triangle by one compiled call for all the models that learn
    (:func:`~domain.forecasting.lag_kernels.ridge_learn`): ``p = inverse @ x``,
    ``inverse -= c p p'``; the coefficients after it follow exactly as
    ``w + p * (beta * y * (1 - c * x.p) - c * x.w)`` with ``c = beta / (1 + beta * x.p)``
    (``p . eta = x . w``, the inverse being symmetric), so neither ``eta`` nor a second
    product is needed. The same samples give the same model as :class:`OnlineRidge`, up to
    float rounding. Deterministic; the coefficients are the state (pickled), so a restored
    bank predicts and learns the same floats.
    """

    __slots__ = ("alpha", "beta", "inverse", "coefficients")

    def __init__(self, count: int, size: int, alpha: float = 1.0, beta: float = 1.0) -> None:
        self.alpha, self.beta = alpha, beta
        self.inverse = np.tile(np.eye(size) / alpha, (count, 1, 1))  # the prior: identity / alpha
        self.coefficients = np.zeros((count, size))
        """``(count, size)``: row ``b`` holds model ``b``'s coefficients (read-only)."""

    def inverse_of(self, model: int) -> np.ndarray:
        """Model ``model``'s inverse precision as a full symmetric matrix (a copy)."""
        lower = np.tril(self.inverse[model])
        return lower + np.tril(lower, -1).T

    def learn(self, models: Sequence[int], rows: np.ndarray, target: float, l1_delta: float | None = None) -> None:
        """Model ``models[i]`` learns sample ``(rows[i], target)``, per ``i`` (distinct models).

        With ``l1_delta``: an online IRLS step towards the median (the loss of WAPE): the
        sample weighs ``w = 1 / max(|residual|, l1_delta)`` (the residual of the model before
        this update), entering as ``sqrt(w)`` times the row and the target.
        """
        delta = math.nan if l1_delta is None else float(l1_delta)
        models = np.asarray(models, dtype=np.int64)
        ridge_learn(self.inverse, self.coefficients, models, rows, float(target), float(self.beta), delta)

    def __getstate__(self) -> tuple:
        return self.alpha, self.beta, self.inverse, self.coefficients.copy()

    def __setstate__(self, state: tuple) -> None:
        self.alpha, self.beta, self.inverse, self.coefficients = state

"""Almost Stochastic Order (Dror, Shlomov and Reichart, ACL 2019), written from
the paper and from del Barrio, Cuesta-Albertos and Matrán (2018).

Given scores of system A and of system B (one per training seed), ASO asks
how far A is from stochastically dominating B.  The violation ratio

    eps_W2(F, G) = integral over {t: F^-1(t) < G^-1(t)} of (F^-1(t) - G^-1(t))^2 dt
                   / integral over (0, 1) of (F^-1(t) - G^-1(t))^2 dt

is 0 when every quantile of A is at least B's, 1 when B dominates.  eps_min
is the smallest eps0 for which the test of H0: eps_W2 >= eps0 rejects at the
given confidence, an upper bound on eps from a bootstrap of both samples:

    eps_min = eps + sqrt((n + m) / (n m)) * sigma * Phi^-1(confidence)

where sigma is the bootstrap standard deviation of sqrt(n m / (n + m)) (eps* - eps)
(the paper writes the same with Phi^-1 of the significance level, 1 - confidence).
A is called better when eps_min < 0.5 (stricter users take 0.2).  With few
scores per side the bound is loose; Ulmer et al. (2022) suggest five or more.
"""
from __future__ import annotations

from statistics import NormalDist

import numpy as np


def _quantiles(scores: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The empirical quantile function, F^-1(t) = the ceil(t n)-th smallest score."""
    ordered = np.sort(scores)
    index = np.clip(np.ceil(t * len(ordered)).astype(int) - 1, 0, len(ordered) - 1)
    return ordered[index]


def violation_ratio(a, b, grid: int = 1000) -> float:
    """eps_W2 of A over B on a midpoint grid of (0, 1); 0.5 when the two
    quantile functions are equal (no direction to call)."""
    t = (np.arange(grid) + 0.5) / grid
    gap = _quantiles(np.asarray(a, float), t) - _quantiles(np.asarray(b, float), t)
    total = float(np.sum(gap ** 2))
    if total == 0.0:
        return 0.5
    return float(np.sum(gap[gap < 0] ** 2)) / total


def aso(a, b, confidence: float = 0.95, resamples: int = 1000, seed: int = 0,
        grid: int = 1000) -> dict:
    """eps_min of 'A is better than B', with the violation ratio it bounds."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("ASO needs at least one score on each side")
    n, m = len(a), len(b)
    eps = violation_ratio(a, b, grid)
    rng = np.random.default_rng(seed)
    boot = np.array([violation_ratio(rng.choice(a, n), rng.choice(b, m), grid)
                     for _ in range(resamples)])
    scale = np.sqrt(n * m / (n + m))
    sigma = float(np.std(scale * (boot - eps)))
    eps_min = eps + sigma / scale * NormalDist().inv_cdf(confidence)
    return {"eps_min": float(min(1.0, max(0.0, eps_min))), "violation_ratio": eps,
            "confidence": confidence, "scores": [n, m], "resamples": resamples, "seed": seed}

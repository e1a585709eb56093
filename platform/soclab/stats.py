"""Statistics for experiment reports: IQM, bootstrap CIs, paired ratios, probability of improvement.

Follows Agarwal et al., "Deep RL at the edge of the statistical precipice" (NeurIPS 2021):
aggregate per-seed results with the mean and the interquartile mean (IQM), report percentile
bootstrap confidence intervals (optionally stratified), and compare a scheduler with a baseline
through paired ratios, relative improvement and the probability of improvement.

Conventions shared by every function here:

* Inputs are 1-D samples, one value per seed; NaNs are dropped (pairwise for paired functions)
  and the ``n`` of the result counts the values actually used.
* Resampling is vectorised and draws only from ``np.random.default_rng(seed)``: the same inputs
  and seed give the same interval, and no global random state is touched.
* Intervals are percentile bootstrap intervals: the ``(1 - confidence) / 2`` and
  ``(1 + confidence) / 2`` quantiles of ``n_boot`` replicates (``np.quantile``, linear method).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Estimate",
    "PooledCopies",
    "bootstrap_ci",
    "improvement_ci",
    "iqm",
    "iqm_ci",
    "mean_ci",
    "paired_ratio_ci",
    "pool_training_copies",
    "probability_of_improvement",
    "probability_of_improvement_ci",
    "saturation_point",
    "summarize",
    "t_ci",
    "training_seeds_ci",
]

FloatArray = NDArray[np.float64]
#: A vectorised statistic: reduces the last axis, mapping shape ``(..., n)`` to ``(...)``.
Statistic = Callable[[FloatArray], FloatArray]

_BLOCK_ELEMENTS = 1 << 22  # resampled values held in memory at once (~32 MB of float64)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval [low, high] computed from n observations."""

    value: float
    low: float
    high: float
    n: int

    @classmethod
    def empty(cls) -> Estimate:
        """The estimate of an empty sample: NaN value and bounds, n = 0."""
        return cls(np.nan, np.nan, np.nan, 0)

    def to_dict(self) -> dict[str, float | int]:
        """The fields as a plain dict (value, low, high, n)."""
        return asdict(self)


# --------------------------------------------------------------------------- helpers


def _vector(x: ArrayLike, name: str = "x") -> FloatArray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sample, got shape {arr.shape}")
    return arr


def _sample(x: ArrayLike, name: str = "x") -> FloatArray:
    arr = _vector(x, name)
    return arr[~np.isnan(arr)]


def _paired(a: ArrayLike, b: ArrayLike) -> tuple[FloatArray, FloatArray]:
    va, vb = _vector(a, "a"), _vector(b, "b")
    if va.size != vb.size:
        raise ValueError(f"paired samples need equal lengths, got {va.size} and {vb.size}")
    keep = ~(np.isnan(va) | np.isnan(vb))
    return va[keep], vb[keep]


def _check(confidence: float, n_boot: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")


def _percentile(reps: FloatArray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(reps, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def _blocks(n_boot: int, width: int) -> Iterator[tuple[int, int]]:
    """(start, rows) blocks covering n_boot replicates of `width` resampled values each."""
    step = max(1, _BLOCK_ELEMENTS // max(width, 1))
    for start in range(0, n_boot, step):
        yield start, min(step, n_boot - start)


def _resample(
    rng: np.random.Generator, n: int, rows: int, strata: list[NDArray[np.intp]] | None
) -> NDArray[np.intp]:
    if strata is None:
        return rng.integers(0, n, size=(rows, n))
    idx = np.empty((rows, n), dtype=np.intp)
    for members in strata:  # resample within each stratum, keeping its size
        idx[:, members] = members[rng.integers(0, members.size, size=(rows, members.size))]
    return idx


def _replicates(
    statistic: Callable[..., FloatArray],
    arrays: Sequence[FloatArray],
    n_boot: int,
    seed: int,
    strata: list[NDArray[np.intp]] | None = None,
) -> FloatArray:
    """Bootstrap replicates of `statistic`; all `arrays` are resampled with the same indices."""
    n = arrays[0].size
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    with np.errstate(divide="ignore", invalid="ignore"):
        for start, rows in _blocks(n_boot, n * len(arrays)):
            idx = _resample(rng, n, rows, strata)
            out[start : start + rows] = statistic(*(arr[idx] for arr in arrays))
    return out


def _strata(strata: ArrayLike | None, keep: NDArray[np.bool_]) -> list[NDArray[np.intp]] | None:
    if strata is None:
        return None
    labels = np.asarray(strata)
    if labels.shape != keep.shape:
        raise ValueError(f"strata must match the sample's shape {keep.shape}, got {labels.shape}")
    _, codes = np.unique(labels[keep], return_inverse=True)
    codes = codes.ravel()
    return [np.flatnonzero(codes == k) for k in range(int(codes.max(initial=-1)) + 1)]


def _mean(s: FloatArray) -> FloatArray:
    return s.mean(axis=-1)


def _iqm(s: FloatArray) -> FloatArray:
    return np.asarray(sps.trim_mean(s, 0.25, axis=-1), dtype=float)


def _ratio(sa: FloatArray, sb: FloatArray) -> FloatArray:
    return sa.mean(axis=-1) / sb.mean(axis=-1)


def _gain_lower(sa: FloatArray, sb: FloatArray) -> FloatArray:
    mb = sb.mean(axis=-1)
    return (mb - sa.mean(axis=-1)) / np.abs(mb) * 100.0


def _gain_higher(sa: FloatArray, sb: FloatArray) -> FloatArray:
    mb = sb.mean(axis=-1)
    return (sa.mean(axis=-1) - mb) / np.abs(mb) * 100.0


def _poi(sa: FloatArray, sb: FloatArray, lower_is_better: bool) -> FloatArray:
    """Normalised Mann–Whitney U along the last axis: P(a better than b), ties counting 1/2."""
    if lower_is_better:  # "a better" = "a smaller": flip signs, then count a > b
        sa, sb = -sa, -sb
    na, nb = sa.shape[-1], sb.shape[-1]
    ranks = sps.rankdata(np.concatenate([sa, sb], axis=-1), axis=-1)  # ties get average ranks
    u_a = ranks[..., :na].sum(axis=-1) - na * (na + 1) / 2.0  # #(a > b) + #(a == b) / 2
    return np.asarray(u_a / (na * nb), dtype=float)


# --------------------------------------------------------------------------- one sample


def bootstrap_ci(
    x: ArrayLike,
    statistic: Statistic,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    *,
    strata: ArrayLike | None = None,
) -> Estimate:
    """Percentile bootstrap CI of a vectorised `statistic` (reduces the last axis).

    With `strata` (one label per value, e.g. the task or injection rate), values are resampled
    within each stratum, keeping stratum sizes fixed: the stratified bootstrap of Agarwal et al.
    """
    _check(confidence, n_boot)
    arr = _vector(x)
    keep = ~np.isnan(arr)
    groups = _strata(strata, keep)
    arr = arr[keep]
    if arr.size == 0:
        return Estimate.empty()
    value = float(statistic(arr[None, :])[0])
    low, high = _percentile(_replicates(statistic, (arr,), n_boot, seed, groups), confidence)
    return Estimate(value, low, high, int(arr.size))


def mean_ci(
    x: ArrayLike,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    *,
    strata: ArrayLike | None = None,
) -> Estimate:
    """Mean with a percentile bootstrap CI; n = 1 collapses the CI to the value, n = 0 gives NaN.

    With `strata`, the bootstrap is stratified (see `bootstrap_ci`).
    """
    return bootstrap_ci(x, _mean, confidence, n_boot, seed, strata=strata)


def t_ci(x: ArrayLike, confidence: float = 0.95) -> Estimate:
    """Student-t CI of the mean: mean ± t((1+c)/2, n-1)·s/√n with s at ddof=1.

    For n = 1 the interval is undefined (no spread estimate): the bounds are NaN.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    arr = _sample(x)
    n = int(arr.size)
    if n == 0:
        return Estimate.empty()
    mean = float(arr.mean())
    if n == 1:
        return Estimate(mean, np.nan, np.nan, 1)
    half = float(sps.t.ppf((1.0 + confidence) / 2.0, n - 1)) * float(arr.std(ddof=1)) / np.sqrt(n)
    return Estimate(mean, float(mean - half), float(mean + half), n)


def iqm(x: ArrayLike) -> float:
    """Interquartile mean: ``scipy.stats.trim_mean(x, 0.25)`` (NaNs dropped, NaN if empty).

    scipy cuts ``floor(0.25 * n)`` values from each end, so for n not divisible by 4 a little more
    than the middle 50% is averaged (n = 5, 6, 7 keep 3, 4, 5 values; n < 4 is the plain mean).
    This is the estimator used by rliable; no fractional weighting of boundary values is done.
    """
    arr = _sample(x)
    return float(sps.trim_mean(arr, 0.25)) if arr.size else float("nan")


def iqm_ci(
    x: ArrayLike,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    *,
    strata: ArrayLike | None = None,
) -> Estimate:
    """IQM (see `iqm`) with a percentile bootstrap CI, optionally stratified."""
    return bootstrap_ci(x, _iqm, confidence, n_boot, seed, strata=strata)


# --------------------------------------------------------------------------- comparisons


def _paired_ci(
    a: ArrayLike,
    b: ArrayLike,
    statistic: Callable[[FloatArray, FloatArray], FloatArray],
    confidence: float,
    n_boot: int,
    seed: int,
) -> Estimate:
    _check(confidence, n_boot)
    va, vb = _paired(a, b)
    if va.size == 0:
        return Estimate.empty()
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(statistic(va[None, :], vb[None, :])[0])
    low, high = _percentile(_replicates(statistic, (va, vb), n_boot, seed), confidence)
    return Estimate(value, low, high, int(va.size))


def paired_ratio_ci(
    a: ArrayLike, b: ArrayLike, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> Estimate:
    """mean(a) / mean(b) for per-seed pairs (a[i], b[i]), with a CI resampling seeds jointly.

    Pairs with a NaN on either side are dropped; n is the number of pairs used.
    """
    return _paired_ci(a, b, _ratio, confidence, n_boot, seed)


def improvement_ci(
    a: ArrayLike,
    b: ArrayLike,
    lower_is_better: bool = True,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> Estimate:
    """Relative improvement of a over b in %, with a paired (joint seed) bootstrap CI.

    Lower-is-better: (mean(b) - mean(a)) / |mean(b)| * 100; higher-is-better: (mean(a) - mean(b)) /
    |mean(b)| * 100. Positive means a is better; pairs with a NaN are dropped.
    """
    gain = _gain_lower if lower_is_better else _gain_higher
    return _paired_ci(a, b, gain, confidence, n_boot, seed)


def probability_of_improvement(a: ArrayLike, b: ArrayLike, lower_is_better: bool = True) -> float:
    """P(X_a better than X_b) = U / (n_a·n_b): the Mann–Whitney U of a over b, ties counting 1/2.

    Equals the fraction of all (a_i, b_j) pairs where a_i is better, plus half the tied pairs;
    NaNs are dropped and an empty side gives NaN.
    """
    va, vb = _sample(a, "a"), _sample(b, "b")
    if va.size == 0 or vb.size == 0:
        return float("nan")
    return float(_poi(va, vb, lower_is_better))


def probability_of_improvement_ci(
    a: ArrayLike,
    b: ArrayLike,
    lower_is_better: bool = True,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> Estimate:
    """Probability of improvement with a bootstrap CI resampling a and b independently.

    As in rliable the two samples are resampled separately (no seed pairing); n = len(a) + len(b).
    """
    _check(confidence, n_boot)
    va, vb = _sample(a, "a"), _sample(b, "b")
    n = int(va.size + vb.size)
    if va.size == 0 or vb.size == 0:
        return Estimate(np.nan, np.nan, np.nan, n)
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    for start, rows in _blocks(n_boot, n):
        sa = va[rng.integers(0, va.size, size=(rows, va.size))]
        sb = vb[rng.integers(0, vb.size, size=(rows, vb.size))]
        reps[start : start + rows] = _poi(sa, sb, lower_is_better)
    low, high = _percentile(reps, confidence)
    return Estimate(float(_poi(va, vb, lower_is_better)), low, high, n)


def training_seeds_ci(
    values: ArrayLike,
    baseline: ArrayLike | None = None,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> Estimate:
    """Mean over training seeds x evaluation seeds (or, with `baseline`, its ratio to the
    baseline's mean on the same evaluation seeds) with a CI covering both sources of variation.

    `values` is a (training seeds, evaluation seeds) matrix; every copy ran the same evaluation
    seeds (common random numbers), so the design is crossed, not nested: each replicate
    resamples the rows and the columns independently (the two-way "pigeonhole" bootstrap,
    Owen 2007, mildly conservative), rather than evaluation seeds within each copy, which
    would break the pairing. `n` counts training seeds; columns with a NaN are dropped."""
    _check(confidence, n_boot)
    m = np.asarray(values, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"values must be a (training seeds, evaluation seeds) matrix, got {m.shape}")
    b = None if baseline is None else _vector(baseline, "baseline")
    keep = ~np.isnan(m).any(axis=0) & (np.ones(m.shape[1], bool) if b is None else ~np.isnan(b))
    m = m[:, keep]
    b = None if b is None else b[keep]
    if m.size == 0:
        return Estimate.empty()
    rows, cols = m.shape

    def stat(mat: FloatArray, cidx: NDArray[np.intp]) -> float:
        value = mat.mean()
        return float(value / b[cidx].mean()) if b is not None else float(value)

    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    for i in range(n_boot):
        r = rng.integers(0, rows, rows)
        c = rng.integers(0, cols, cols)
        reps[i] = stat(m[np.ix_(r, c)], c)
    low, high = _percentile(reps, confidence)
    return Estimate(stat(m, np.arange(cols)), low, high, rows)


@dataclass(frozen=True)
class PooledCopies:
    """One agent trained several times (budget.training_seeds), pooled at one point of the axes:
    its mean over copies and seeds, and per baseline the ratio of means and P(better), with CIs
    from `training_seeds_ci`."""

    name: str  #: the spec's agent name
    n_copies: int
    n_seeds: int
    mean: Estimate
    ratio: dict[str, Estimate]
    prob_improvement: dict[str, float]  #: mean over copies of P(copy better than baseline)

    @property
    def label(self) -> str:
        """The pooled agent's name in tables: `NAME (N training seeds)`."""
        return f"{self.name} ({self.n_copies} training seeds)"


def pool_training_copies(
    rows: pd.DataFrame,
    name: str,
    copies: Sequence[str],
    baselines: Sequence[str],
    metric: str,
    lower_is_better: bool = True,
    seed_col: str = "seed",
) -> PooledCopies | None:
    """Pool the copies of agent `name` in `rows` (per-seed results of one point: `agent`,
    `seed_col`, `metric`); None with fewer than two copies present. The one place the pooled
    answer is computed, for the `soclab train` table and the report alike."""
    wide = rows[rows.agent.isin(list(copies))].pivot_table(index="agent", columns=seed_col,
                                                           values=metric)
    if len(wide) < 2:
        return None
    ratio: dict[str, Estimate] = {}
    prob: dict[str, float] = {}
    for b in baselines:
        base = rows[rows.agent == b].set_index(seed_col)[metric]
        common = wide.columns.intersection(base.index)
        if not len(common):
            continue
        m, v = wide[common].to_numpy(dtype=float), base.loc[common].to_numpy(dtype=float)
        ratio[b] = training_seeds_ci(m, v)
        keep = ~np.isnan(m).any(axis=0) & ~np.isnan(v)
        prob[b] = (float(np.mean([_poi(row[keep], v[keep], lower_is_better) for row in m]))
                   if keep.any() else float("nan"))
    return PooledCopies(name, len(wide), wide.shape[1],
                        training_seeds_ci(wide.to_numpy(dtype=float)), ratio, prob)


# --------------------------------------------------------------------------- tables and curves


def _per_seed(group: pd.DataFrame, value: str, seed_col: str) -> pd.Series:
    if group[seed_col].duplicated().any():
        dup = group.loc[group[seed_col].duplicated(), seed_col].iloc[0]
        raise ValueError(
            f"seed {dup!r} appears more than once in a group: cannot pair by {seed_col!r}; "
            "add the column that distinguishes these rows to `by`"
        )
    return group.set_index(seed_col)[value].astype(float)


def summarize(
    df: pd.DataFrame,
    value: str,
    by: str | Sequence[str],
    baseline: str | None = None,
    *,
    agent_col: str = "agent",
    seed_col: str = "seed",
    lower_is_better: bool = True,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-group mean/IQM with bootstrap CIs and, given `baseline`, paired comparisons to it.

    `df` is long format, one row per run: the `by` columns (e.g. ``agent``, ``noise``, ``rate``),
    `seed_col` (needed only with `baseline`) and the numeric `value` column (e.g.
    ``avg_latency_us``). Within a group each seed must appear at most once when pairing.

    Returns one row per group (sorted by `by`) with the `by` columns and:

    * ``n`` (non-NaN values), ``mean``, ``mean_low``, ``mean_high`` (bootstrap CI, `mean_ci`),
      ``iqm``, ``iqm_low``, ``iqm_high`` (`iqm_ci`), ``std`` (ddof=1, NaN if n < 2);
    * with ``baseline`` (a value of `agent_col`, which must be in `by`): each group is compared
      with the baseline's group having the same other `by` values, on the seeds both have
      (``n_paired`` pairs): ``ratio_to_<baseline>``, ``ratio_low``, ``ratio_high``
      (`paired_ratio_ci`), ``improvement_pct``, ``improvement_low``, ``improvement_high``
      (`improvement_ci`, positive = better than baseline) and ``prob_improvement``
      (`probability_of_improvement` on the paired seeds). NaN where the baseline group is missing.
    """
    import pandas as pd

    keys = [by] if isinstance(by, str) else list(by)
    needed = {value, *keys} | ({seed_col} if baseline is not None else set())
    missing = needed - set(df.columns)
    if missing:
        raise ValueError(f"summarize: columns {sorted(missing)} not in the DataFrame")
    if baseline is not None and agent_col not in keys:
        raise ValueError(f"summarize: baseline needs agent_col {agent_col!r} among by={keys}")

    ratio_col = f"ratio_to_{baseline}"
    columns = [*keys, "n", "mean", "mean_low", "mean_high", "iqm", "iqm_low", "iqm_high", "std"]
    if baseline is not None:
        columns += ["n_paired", ratio_col, "ratio_low", "ratio_high", "improvement_pct",
                    "improvement_low", "improvement_high", "prob_improvement"]

    groups = dict(iter(df.groupby(keys, sort=True, dropna=False)))
    rows: list[dict[str, object]] = []
    for key, group in groups.items():
        x = group[value].to_numpy(dtype=float)
        m = mean_ci(x, confidence, n_boot, seed)
        q = iqm_ci(x, confidence, n_boot, seed)
        clean = x[~np.isnan(x)]
        row: dict[str, object] = dict(zip(keys, key, strict=True))
        row.update(n=m.n, mean=m.value, mean_low=m.low, mean_high=m.high, iqm=q.value,
                   iqm_low=q.low, iqm_high=q.high,
                   std=float(clean.std(ddof=1)) if clean.size > 1 else np.nan)
        if baseline is not None:
            base = groups.get(tuple(baseline if k == agent_col else v
                                    for k, v in zip(keys, key, strict=True)))
            if base is None:
                a = b = np.zeros(0)
            else:
                pairs = pd.concat([_per_seed(group, value, seed_col),
                                   _per_seed(base, value, seed_col)],
                                  axis=1, join="inner", keys=["a", "b"]).sort_index().dropna()
                a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
            r = paired_ratio_ci(a, b, confidence, n_boot, seed)
            g = improvement_ci(a, b, lower_is_better, confidence, n_boot, seed)
            row.update({"n_paired": int(a.size), ratio_col: r.value, "ratio_low": r.low,
                        "ratio_high": r.high, "improvement_pct": g.value,
                        "improvement_low": g.low, "improvement_high": g.high,
                        "prob_improvement": probability_of_improvement(a, b, lower_is_better)})
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def saturation_point(
    rates: ArrayLike, latencies: ArrayLike, factor: float = 2.0
) -> float | None:
    """Injection rate where latency first exceeds `factor` × the latency at the lowest rate.

    Definition: latencies are averaged per distinct rate (NaNs dropped) and sorted by rate, giving
    points (r_0, L_0) < (r_1, L_1) < ...; the threshold is T = factor·L_0. If no L_i > T, the
    curve never saturates and None is returned. Otherwise, for the first i with L_i > T, return
    the rate where the segment from (r_{i-1}, L_{i-1}) to (r_i, L_i) reaches T by linear
    interpolation, r_{i-1} + (T - L_{i-1}) (r_i - r_{i-1}) / (L_i - L_{i-1}) (r_0 if i = 0, which
    needs factor < 1; an infinite L_i gives r_{i-1}).
    """
    r, lat = _vector(rates, "rates"), _vector(latencies, "latencies")
    if r.size != lat.size:
        raise ValueError(f"rates and latencies differ in length: {r.size} vs {lat.size}")
    keep = ~(np.isnan(r) | np.isnan(lat))
    r, lat = r[keep], lat[keep]
    if r.size == 0:
        return None
    rate, inverse = np.unique(r, return_inverse=True)
    mean_lat = np.bincount(inverse, weights=lat) / np.bincount(inverse)
    threshold = factor * mean_lat[0]
    above = np.flatnonzero(mean_lat > threshold)
    if above.size == 0:
        return None
    i = int(above[0])
    if i == 0:
        return float(rate[0])
    r0, r1, l0, l1 = rate[i - 1], rate[i], mean_lat[i - 1], mean_lat[i]
    if not np.isfinite(l1):
        return float(r0)
    return float(r0 + (threshold - l0) * (r1 - r0) / (l1 - l0))

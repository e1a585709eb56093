"""Pure rank helpers for the list-scheduling planners (HEFT, CPOP, PEFT).

Upward and downward ranks follow Topcuoglu, Hariri & Wu, "Performance-effective and
low-complexity task scheduling for heterogeneous computing", IEEE TPDS 13(3), 2002; the
optimistic cost table follows Arabnejad & Barbosa, "List scheduling algorithm for heterogeneous
systems by an optimistic cost table", IEEE TPDS 25(3), 2014. Means and minima over PEs skip the
PEs that cannot run a task (infinite execution time), so restricted accelerators do not poison
the ranks. Average edge cost c̄ = volume / mean off-diagonal bandwidth of the PE matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Dag(Protocol):
    """The DAG shape the helpers need; `dssoc.engine.CompiledApp` provides it."""

    n: int
    preds: tuple[tuple[int, ...], ...]
    succs: tuple[tuple[int, ...], ...]
    volumes: tuple[tuple[float, ...], ...]  # volumes[i][k] is the edge preds[i][k] -> i


def mean_offdiag_bandwidth(pe_bandwidth: np.ndarray) -> float:
    """Mean bandwidth between two *different* PEs (the self bandwidth if there is one PE)."""
    n = pe_bandwidth.shape[0]
    if n == 1:
        return float(pe_bandwidth[0, 0])
    return float(pe_bandwidth[~np.eye(n, dtype=bool)].mean())


def mean_exec(exec_pe: np.ndarray) -> np.ndarray:
    """Mean execution time of every task over the PEs that support it (w̄ in the papers)."""
    ok = np.isfinite(exec_pe)
    total = np.where(ok, exec_pe, 0.0).sum(axis=1)
    return total / np.maximum(ok.sum(axis=1), 1)


def edge_costs(app: Dag, pe_bandwidth: np.ndarray) -> dict[tuple[int, int], float]:
    """Average communication cost c̄(src, dst) of every edge."""
    bw = mean_offdiag_bandwidth(pe_bandwidth)
    return {
        (p, i): vol / bw
        for i in range(app.n)
        for p, vol in zip(app.preds[i], app.volumes[i], strict=True)
    }


def _reverse_topological(app: Dag) -> list[int]:
    """Tasks ordered so that every task comes after all its successors."""
    from dssoc.model import kahn_order

    return kahn_order(app.succs, app.preds)


def upward_rank(app: Dag, exec_pe: np.ndarray, pe_bandwidth: np.ndarray) -> np.ndarray:
    """rank_u(n) = w̄(n) + max over successors s of (c̄(n, s) + rank_u(s)) (Topcuoglu 2002)."""
    w = mean_exec(exec_pe)
    c = edge_costs(app, pe_bandwidth)
    rank = np.zeros(app.n)
    for i in _reverse_topological(app):
        rank[i] = w[i] + max((c[i, s] + rank[s] for s in app.succs[i]), default=0.0)
    return rank


def downward_rank(app: Dag, exec_pe: np.ndarray, pe_bandwidth: np.ndarray) -> np.ndarray:
    """rank_d(n) = max over predecessors p of (rank_d(p) + w̄(p) + c̄(p, n)); 0 at entries."""
    w = mean_exec(exec_pe)
    c = edge_costs(app, pe_bandwidth)
    rank = np.zeros(app.n)
    for i in reversed(_reverse_topological(app)):
        rank[i] = max((rank[p] + w[p] + c[p, i] for p in app.preds[i]), default=0.0)
    return rank


def optimistic_cost_table(app: Dag, exec_pe: np.ndarray, pe_bandwidth: np.ndarray) -> np.ndarray:
    """OCT(t, p) = max over successors s of min over PEs q of
    [OCT(s, q) + w(s, q) + (c̄(t, s) if q != p else 0)]; 0 for exit tasks (Arabnejad 2014)."""
    n_pes = exec_pe.shape[1]
    c = edge_costs(app, pe_bandwidth)
    same = np.eye(n_pes, dtype=bool)
    oct_ = np.zeros((app.n, n_pes))
    for t in _reverse_topological(app):
        for s in app.succs[t]:
            via = oct_[s] + exec_pe[s]  # (q,), inf where s cannot run on q
            # rows: the PE p of t; columns: the PE q of s
            cost = np.where(same, via[None, :], via[None, :] + c[t, s]).min(axis=1)
            np.maximum(oct_[t], cost, out=oct_[t])
    return oct_


def oct_rank(oct_table: np.ndarray, exec_pe: np.ndarray) -> np.ndarray:
    """PEFT priority: mean OCT of each task over the PEs that support it."""
    return mean_exec(np.where(np.isfinite(exec_pe), oct_table, np.inf))


def critical_path(priority: Sequence[float] | np.ndarray, heads: Sequence[int]) -> list[int]:
    """Tasks whose rank_u + rank_d equals the entry's (the largest over entries), within 1e-9."""
    prio = np.asarray(priority, dtype=float)
    cp = max(prio[h] for h in heads)
    tol = 1e-9 * max(1.0, abs(cp))
    return [int(i) for i in np.flatnonzero(np.abs(prio - cp) <= tol)]

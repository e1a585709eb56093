"""Gantt charts of simulated schedules (matplotlib, PNG), one row per PE, one colour per job."""

from __future__ import annotations

import pandas as pd


def plot_gantt(
    trace: pd.DataFrame,
    pe_names: tuple[str, ...],
    path: str,
    start_us: float | None = None,
    end_us: float | None = None,
    title: str = "",
) -> str:
    """Draw the tasks of `trace` overlapping [start_us, end_us] and save a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo = trace["start"].min() if start_us is None else start_us
    hi = trace["finish"].max() if end_us is None else end_us
    window = trace[(trace.finish >= lo) & (trace.start <= hi)]
    fig, ax = plt.subplots(figsize=(12, 0.35 * len(pe_names) + 1.5))
    cmap = plt.get_cmap("tab20")
    for row in window.itertuples(index=False):
        ax.barh(row.pe, row.finish - row.start, left=row.start, height=0.8,
                color=cmap(row.job % 20), edgecolor="black", linewidth=0.3)
        if (row.finish - row.start) > (hi - lo) / 60:
            ax.text((row.start + row.finish) / 2, row.pe, f"{row.job}", ha="center",
                    va="center", fontsize=6)
    ax.set_yticks(range(len(pe_names)), labels=list(pe_names))
    ax.invert_yaxis()
    ax.set_xlim(lo, hi if hi > lo else lo + 1)
    ax.set_xlabel("time (µs)")
    ax.set_title(title or "schedule")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

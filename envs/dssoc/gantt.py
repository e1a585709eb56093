"""Gantt charts of simulated schedules (matplotlib, PNG): one row per PE, one colour per
application (with a legend), job ids written inside the bars wide enough to hold them.

Without an explicit window the chart shows a few jobs after the warm-up (`default_window`):
the whole run drawn at once is an unreadable barcode.
"""

from __future__ import annotations

import pandas as pd

DEFAULT_JOBS = 4  # jobs shown by the default window


def default_window(trace: pd.DataFrame, warmup_us: float = 0.0, jobs: int = DEFAULT_JOBS
                   ) -> tuple[float, float]:
    """[arrival of the first job injected after `warmup_us`, finish of the `jobs`-th such job]."""
    if trace.empty:
        return 0.0, 1.0
    arrivals = trace.groupby("job")["job_arrival"].first().sort_values()
    after = arrivals[arrivals >= warmup_us]
    chosen = (after if len(after) else arrivals).index[:jobs]
    lo = float(arrivals.loc[chosen].min())
    hi = float(trace[trace.job.isin(chosen)]["finish"].max())
    return lo, hi if hi > lo else lo + 1.0


def plot_gantt(
    trace: pd.DataFrame,
    pe_names: tuple[str, ...],
    path: str,
    start_us: float | None = None,
    end_us: float | None = None,
    title: str = "",
    warmup_us: float = 0.0,
) -> str:
    """Draw the tasks of `trace` overlapping [start_us, end_us] (default: `default_window`) and
    save a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if start_us is None or end_us is None:
        lo0, hi0 = default_window(trace, warmup_us)
        lo = lo0 if start_us is None else start_us
        hi = hi0 if end_us is None else end_us
    else:
        lo, hi = start_us, end_us
    hi = hi if hi > lo else lo + 1.0
    window = trace[(trace.finish >= lo) & (trace.start <= hi)]
    apps = sorted(trace["app"].unique()) if "app" in trace else []
    palette = [plt.get_cmap("tab10")(i) for i in range(10)]  # a qualitative map's 10 colours
    color = {a: palette[i % len(palette)] for i, a in enumerate(apps)}
    fig, ax = plt.subplots(figsize=(11, 0.32 * len(pe_names) + 1.9))
    span = hi - lo
    for row in window.itertuples(index=False):
        width = row.finish - row.start
        ax.barh(row.pe, width, left=row.start, height=0.75, color=color.get(row.app, "0.6"),
                edgecolor="black", linewidth=0.3)
        text = str(row.job)
        visible = min(row.finish, hi) - max(row.start, lo)
        if visible > span * 0.012 * (len(text) + 1):  # only where the label fits inside the bar
            ax.text((max(row.start, lo) + min(row.finish, hi)) / 2, row.pe, text, ha="center",
                    va="center", fontsize=6, clip_on=True)
    ax.set_yticks(range(len(pe_names)), labels=list(pe_names))
    ax.set_ylim(len(pe_names) - 0.5, -0.5)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("simulated time (µs)")
    ax.set_ylabel("processing element (PE)")
    ax.set_title((title or "schedule") + "\nnumbers in bars: job id", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    if apps:
        ax.legend(handles=[Patch(color=color[a], label=a) for a in apps], title="application",
                  loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

"""`soclab evaluate`'s terminal table at 80 columns: every row keeps its answer (ratio with CI,
P(better)) on one line, short noise specs stay whole, and long ones fold instead of pushing
columns off screen."""

from __future__ import annotations

import pandas as pd

from soclab.rl.evaluate import Evaluation, print_evaluation


def _row(noise: str, trained: bool, comparison: str, baseline: str) -> dict[str, object]:
    return {"rate_jobs_per_ms": 13.986, "noise": noise, "trained_noise": trained,
            "comparison": comparison, "baseline": baseline, "model_latency_us": 112.168,
            "baseline_latency_us": 114.559, "ratio": 0.9791, "ratio_low": 0.9716,
            "ratio_high": 0.9863, "prob_improvement": 0.6075, "wins": True, "loses": False}


def render_at_80(monkeypatch, capsys, rows: list[dict[str, object]], model: str) -> str:
    """The table `soclab evaluate` prints for these summary rows, at 80 columns."""
    monkeypatch.setenv("COLUMNS", "80")
    print_evaluation(Evaluation(model, {"binding": "late", "noise": "gaussian:0.3",
                                "rate_jobs_per_ms": 13.986}, tuple(range(20)),
                                summary=pd.DataFrame(rows)))
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    return out


def test_table_fits_80_columns_with_every_answer_whole(monkeypatch, capsys) -> None:
    out = render_at_80(monkeypatch, capsys, [
        _row("gaussian:0.3", True, "best", "late-ETF"),
        _row("persistent:pe:3:1000:4000", False, "late-HEFT_RT", "late-HEFT_RT")],
        "ppo-v1-synthetic-top")
    assert out.count("0.979 [0.972, 0.986]") == 2 and out.count("0.61") == 2
    assert "P(better)" in out and "not seen in training" in out
    assert "best =" in out and "late-ETF" in out
    assert "gaussian:0.3" in out  # a short noise spec reads whole, on one line


def test_short_noise_specs_are_not_folded(monkeypatch, capsys) -> None:
    """With only short specs the noise column would be squeezed first; it keeps them whole."""
    out = render_at_80(monkeypatch, capsys, [_row("gaussian:0.3", True, "best", "late-CP"),
                                             _row("gaussian:0.5", False, "late-CP", "late-CP")],
                       "ppo-v1-wifi-rx-tx")
    assert "gaussian:0.3 " in out and "gaussian:0.5 *" in out and out.count("P(better)") == 1

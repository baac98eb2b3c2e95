"""``callcenter report --plot FILE.png``: offered/answered calls and service level over time.

matplotlib is an optional extra (``pip install 'callcenter[plot]'``): it is large, and only
this command needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from callcenter.cdr.kpis import Kpis
from callcenter.errors import CallCenterError


class PlotUnavailable(CallCenterError):
    code = "plot-unavailable"


def plot_kpis(
    rows: Sequence[Kpis], path: str | Path, title: str = "Calls and service level"
) -> Path:
    """Bars of offered and answered calls per period, a line of the service level (%)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailable(
            "--plot needs matplotlib: pip install 'callcenter[plot]' (or pip install matplotlib)"
        ) from exc
    labels = [row.group for row in rows]
    positions = list(range(len(rows)))
    figure, calls_axis = plt.subplots(figsize=(max(6.0, 0.5 * len(rows) + 2), 4.5))
    width = 0.4
    calls_axis.bar(
        [p - width / 2 for p in positions], [r.offered for r in rows], width, label="offered"
    )
    calls_axis.bar(
        [p + width / 2 for p in positions], [r.answered for r in rows], width, label="answered"
    )
    calls_axis.set_ylabel("calls")
    calls_axis.set_xticks(positions, labels, rotation=45, ha="right", fontsize=8)
    sl_axis = calls_axis.twinx()
    sl_axis.plot(
        positions,
        [r.service_level if r.service_level is not None else float("nan") for r in rows],
        color="tab:red",
        marker="o",
        label="service level %",
    )
    sl_axis.set_ylim(0, 105)
    sl_axis.set_ylabel("service level %")
    handles = calls_axis.get_legend_handles_labels()
    more = sl_axis.get_legend_handles_labels()
    calls_axis.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=8)
    calls_axis.set_title(title)
    figure.tight_layout()
    out = Path(path)
    figure.savefig(out, format="png", dpi=100)
    plt.close(figure)
    return out

"""§7102 metrics for a calendar year: what the privacy policy publishes about requests to know.

Counted by the year a request was *received* (UTC), with each request's outcome as of when the metrics are made:

- received: distinct requests, i.e. not counting a duplicate linked to a request that was still open (the consumer
  asked twice and got one answer); those are published on their own line so nothing is hidden;
- complied with in whole or in part: the report was sent, including a report saying we hold no personal information;
- denied: the rejection was sent (identity not verified, a third request in 12 months, ...);
- still open: neither yet (decided but not yet sent counts as open); so received = complied + denied + open;
- median and mean days to respond: calendar days from receipt to the report or rejection, over answered requests.

CLI::

    python -m include.metrics metrics --year 2026 [--out-dir DIR]   # ccpa-metrics-2026.csv and .png
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.store import ComplianceStore, utcnow
from include.store.records import (
    COMPLIED,
    COMPLIED_NO_DATA,
    DENIED,
    EXPIRED_UNVERIFIED,
    INVALID,
    LINKED_DUPLICATE,
    OVERDUE,
    days_between,
    request_records,
    round1,
    year_bounds,
)
from include.store.schema import (
    BASES,
    BASIS_ACCOUNT_LOGIN,
    BASIS_CATEGORIES_ONLY,
    BASIS_DATA_POINTS_DECLARATION,
    BASIS_POWER_OF_ATTORNEY,
)

#: Complied-with requests approved before the verification basis was recorded.
UNRECORDED = "unrecorded"


@dataclass(frozen=True)
class Metrics:
    year: int
    received: int
    complied: int
    denied: int
    open: int
    #: Of the open ones, those past their deadline.
    overdue: int
    linked_duplicates: int
    median_days: float | None
    mean_days: float | None
    as_of: datetime
    #: Complied-with requests by verification basis (every basis listed, zeros included; ``unrecorded``: approvals
    #: recorded before bases were, listed only when there are some).
    by_basis: tuple[tuple[str, int], ...] = ()


#: The verification bases as the published lines name them.
BASIS_LABELS = {
    BASIS_ACCOUNT_LOGIN: "verified by account login (§7061)",
    BASIS_DATA_POINTS_DECLARATION: "verified by matching data points and a signed declaration (§7062)",
    BASIS_POWER_OF_ATTORNEY: "made by an agent with a power of attorney (§7063)",
    BASIS_CATEGORIES_ONLY: "answered with categories only (§7062(b), §7024)",
    UNRECORDED: "approved before the verification basis was recorded",
}


#: (field, label) in the order published; the labels are what the privacy-policy page shows.
PUBLISHED = [
    ("year", "Calendar year"),
    ("received", "Requests to know received"),
    ("complied", "Complied with in whole or in part"),
    ("denied", "Denied"),
    ("open", "Still open"),
    ("median_days", "Median days to respond"),
    ("mean_days", "Mean days to respond"),
    ("linked_duplicates", "Duplicate requests linked to an open request (not counted above)"),
]


def yearly_metrics(store: ComplianceStore, year: int, *, now: datetime | None = None) -> Metrics:
    """The year's §7102 numbers, from the same §7101 records the auditors get (one definition of each outcome)."""
    now = now or utcnow()
    lines = request_records(store, *year_bounds(year), now=now)
    # A duplicate is answered by its original; an invalid conf names nobody who could be answered.
    counted = [line for line in lines if line.response not in (LINKED_DUPLICATE, INVALID)]
    complied = [line for line in counted if line.response in (COMPLIED, COMPLIED_NO_DATA)]
    by_basis = [(basis, sum(line.verification_basis == basis for line in complied)) for basis in BASES]
    unrecorded = sum(line.verification_basis is None for line in complied)
    if unrecorded:
        by_basis.append((UNRECORDED, unrecorded))
    # Unrounded durations: the median and mean are rounded once, not averaged from rounded values.
    days = [
        days_between(line.received_at, line.response_at)
        for line in counted
        if line.answered and line.response_at is not None
    ]
    return Metrics(
        year=year,
        received=len(counted),
        complied=sum(line.response in (COMPLIED, COMPLIED_NO_DATA) for line in counted),
        denied=sum(line.response in (DENIED, EXPIRED_UNVERIFIED) for line in counted),
        open=sum(not line.answered for line in counted),
        overdue=sum(line.response == OVERDUE for line in counted),
        linked_duplicates=len(lines) - len(counted),
        median_days=round1(statistics.median(days)) if days else None,
        mean_days=round1(statistics.fmean(days)) if days else None,
        as_of=now,
        by_basis=tuple(by_basis),
    )


def write_metrics_csv(metrics: Metrics, path: Path) -> Path:
    """One row per metric (metric, label, value): what a privacy-policy table is made of. Empty = not applicable."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["metric", "label", "value"])
        for name, label in PUBLISHED:
            value = getattr(metrics, name)
            writer.writerow([name, label, "" if value is None else value])
        for basis, count in metrics.by_basis:
            writer.writerow([f"complied_{basis}", f"Complied with, {BASIS_LABELS[basis]}", count])
        writer.writerow(["as_of", "Figures as of (UTC)", metrics.as_of.astimezone(UTC).date().isoformat()])
    return path


# Okabe-Ito colours: told apart with every common colour-vision deficiency, and dark enough for white text.
_BLUE, _GREEN, _VERMILLION, _INK, _MUTED = "#0072B2", "#009E73", "#D55E00", "#222222", "#555555"


def render_chart(metrics: Metrics, path: Path, *, width_px: int = 800, height_px: int = 450) -> Path:
    """A small bar chart for the privacy-policy page: received / complied / denied, the days to respond beside."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    rc: dict[str, Any] = {"family": "DejaVu Sans"}
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    fig.text(0.04, 0.92, f"CCPA requests to know, {metrics.year}", fontsize=17, weight="bold", color=_INK, **rc)

    ax = fig.add_axes((0.04, 0.25, 0.59, 0.57))
    labels = ["Received", "Complied with\nin whole or in part", "Denied"]
    values = [metrics.received, metrics.complied, metrics.denied]
    bars = ax.bar(labels, values, color=[_BLUE, _GREEN, _VERMILLION], width=0.6)
    top = max([*values, 1])
    ax.set_ylim(0, top * 1.18)
    for bar, value in zip(bars, values, strict=True):
        ax.annotate(
            f"{value:,}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=13,
            weight="bold",
            color=_INK,
            **rc,
        )
    # Each bar carries its number: a y axis would only repeat it (and its labels grow with the counts).
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.spines["bottom"].set_color("#999999")
    ax.set_yticks([])
    ax.tick_params(axis="x", colors=_INK, labelsize=10.5, length=0, pad=6)
    for label in ax.get_xticklabels():
        label.set_fontfamily(rc["family"])

    x = 0.68
    fig.text(x, 0.74, "Days to respond", fontsize=12, weight="bold", color=_INK, **rc)
    days: tuple[tuple[str, float | None], ...] = (("Median", metrics.median_days), ("Mean", metrics.mean_days))
    for i, (heading, day_count) in enumerate(days):
        y = 0.64 - i * 0.17
        fig.text(x, y, heading, fontsize=11, color=_MUTED, **rc)
        if day_count is None:
            fig.text(x, y - 0.07, "no request answered yet", fontsize=11, color=_INK, **rc)
        else:
            fig.text(x, y - 0.085, f"{day_count:.1f}", fontsize=24, weight="bold", color=_INK, **rc)
    fig.text(x, 0.25, "calendar days from receipt\nto the report or the denial", fontsize=9.5, color=_MUTED, **rc)

    notes = [f"Still open: {metrics.open:,}"]
    if metrics.linked_duplicates:
        notes.append(f"Duplicates linked to an open request (not counted above): {metrics.linked_duplicates:,}")
    fig.text(0.04, 0.07, "  ·  ".join(notes), fontsize=9, color=_MUTED, **rc)
    as_of = f"{metrics.as_of.astimezone(UTC):%Y-%m-%d}"
    fig.text(
        0.04, 0.03, f"Requests counted by date received (UTC). Figures as of {as_of}.", fontsize=9, color=_MUTED, **rc
    )
    fig.savefig(path, dpi=dpi, format="png", metadata={"Software": None})
    return path


def write_outputs(metrics: Metrics, out_dir: Path) -> tuple[Path, Path]:
    """``ccpa-metrics-<year>.csv`` and ``.png`` in ``out_dir`` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"ccpa-metrics-{metrics.year}"
    return write_metrics_csv(metrics, stem.with_suffix(".csv")), render_chart(metrics, stem.with_suffix(".png"))


def main(argv: Sequence[str] | None = None, store: ComplianceStore | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.metrics", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("metrics", help="the §7102 metrics of one calendar year: CSV and PNG chart")
    cmd.add_argument("--year", type=int, required=True)
    cmd.add_argument("--out-dir", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)

    metrics = yearly_metrics(store or ComplianceStore.from_connection(), args.year)
    csv_path, png_path = write_outputs(metrics, args.out_dir)
    print(f"{csv_path.resolve()}\n{png_path.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The SD bench's table: one line per measured setting (`python -m fastgen_book bench sd`), also
the table the tiny model's card prints."""

from __future__ import annotations

HEADER = (
    f"{'setting':<42} {'NFE':>4} {'colour':>7} {'shape':>6} {'rel.':>6} {'style':>6} "
    f"{'bg':>6} {'all':>6} {'dist.':>7} {'floor':>6} {'sharp':>6} {'div.':>5} {'ms/img':>7}"
)


GPU_HEADER = f"{'setting':<42} {'NFE':>4} {'CLIP':>6} {'ms/img':>8}"


def format_row(row: dict) -> str:
    """One line of the table (accuracies in %; sharpness and diversity in % of real images',
    `fastgen_book.sd.fidelity`, "-" in rows measured before they were; the gpu tier's rows:
    CLIP score)."""
    if row["all_correct"] is None:
        return (
            f"{row['label']:<42} {row['nfe_per_image']:>4} {row['clip_score']:>6.2f} "
            f"{row['ms_per_image']:>8.1f}"
        )
    a = row["accuracy"]
    cells = " ".join(
        f"{100 * a[k]:>{w}.1f}"
        for k, w in [("colour", 7), ("shape", 6), ("relation", 6), ("style", 6), ("background", 6)]
    )
    return (
        f"{row['label']:<42} {row['nfe_per_image']:>4} {cells} {100 * row['all_correct']:>6.1f} "
        f"{row['distance']:>7.3f} {row['distance_floor']:>6.3f} "
        f"{_percent(row.get('sharpness'), 6)} {_percent(row.get('diversity'), 5)} "
        f"{row['ms_per_image']:>7.2f}"
    )


def _percent(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.0f}"

"""A sweep report as files: Markdown with tables and figures, and the results as CSV.

Host-side only, no JAX. `write` lays out what the caller computed; `markdown_table` and
`write_csv` are the pieces. Numbers are printed with four significant digits, NaN and
infinity as "diverged".
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def cell(value: Any) -> str:
    """A table cell: floats to four significant digits, non-finite as "diverged"."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "diverged"
        return f"{value:.4g}"
    return str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (the keys of the first row, or
    ``columns``, in order)."""
    if not rows:
        return "(no rows)\n"
    columns = list(rows[0]) if columns is None else list(columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """``rows`` as CSV with a header (the keys of the first row); floats at full precision."""
    path = Path(path)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write(
    folder: str | Path,
    title: str,
    sections: Sequence[tuple[str, str]],
    figures: Sequence[tuple[str, str | Path]] = (),
    name: str = "report.md",
) -> Path:
    """``folder/name``: a title, then each (heading, Markdown body) section, then each
    (caption, image path) figure, linked relative to the folder."""
    folder = Path(folder)
    parts = [f"# {title}\n"]
    for heading, body in sections:
        parts.append(f"## {heading}\n\n{body.rstrip()}\n")
    if figures:
        parts.append("## Figures\n")
        for caption, image in figures:
            relative = Path(image).resolve().relative_to(folder.resolve())
            parts.append(f"### {caption}\n\n![{caption}]({relative.as_posix()})\n")
    path = folder / name
    path.write_text("\n".join(parts))
    return path

"""A finding's or a score's figures (nested JSON) as rows a person reads: labels, values, sub-tables.

Nothing here builds markup: web/figures.html draws the rows, so every value is autoescaped.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_DEPTH = 6


@dataclass
class FigureRow:
    label: str
    text: str = ""
    rows: list[FigureRow] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # a list of objects: one table row per object
    table: list[list[str]] = field(default_factory=list)


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _cell(value) -> str:
    """A sub-table cell: plain values of a list joined as a row's are (not a Python list's repr)."""
    if isinstance(value, list) and not any(isinstance(item, dict | list) for item in value):
        return "; ".join(_text(item) for item in value)
    return str(value) if isinstance(value, dict | list) else _text(value)


def _label(key) -> str:
    return str(key).replace("_", " ")


def figure_rows(figures, depth: int = 0) -> list[FigureRow]:
    if not isinstance(figures, dict):
        return [FigureRow(label="value", text=_text(figures))]
    return [_row(key, figures[key], depth) for key in figures]


def _row(key, value, depth: int) -> FigureRow:
    label = _label(key)
    if isinstance(value, dict):
        if not value:
            return FigureRow(label=label, text="none")
        if depth >= MAX_DEPTH:
            return FigureRow(label=label, text=str(value))
        return FigureRow(label=label, rows=figure_rows(value, depth + 1))
    if isinstance(value, list):
        if not value:
            return FigureRow(label=label, text="none")
        if all(isinstance(item, dict) for item in value):
            columns = list(dict.fromkeys(k for item in value for k in item))
            return FigureRow(label=label, columns=[_label(c) for c in columns],
                             table=[[_cell(item.get(c)) for c in columns] for item in value])
        return FigureRow(label=label, text="; ".join(_text(item) for item in value))
    return FigureRow(label=label, text=_text(value))

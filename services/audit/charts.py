"""Inline SVG charts for the regulator's report: no script, no CDN, readable offline and in print."""

from __future__ import annotations

import math
from html import escape

PALETTE = ("#2f6fad", "#e0803a", "#3c9a5f", "#b8455b", "#7b61b0", "#8a6d3b", "#4aa3a2", "#9aa1a9")


def bars(items: list[tuple[str, float]], width: int = 640, unit: str = "") -> str:
    """Horizontal bars, largest first, each labelled with its value."""
    if not items:
        return '<p class="muted">无数据</p>'
    top = max(v for _, v in items) or 1
    row, label_w = 26, 190
    height = row * len(items) + 8
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for i, (label, value) in enumerate(items):
        y, w = 4 + i * row, max(1.0, (width - label_w - 70) * value / top)
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" rx="3" '
                     f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 16}">{value:g}{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def donut(items: list[tuple[str, float]], size: int = 220) -> str:
    """Shares of a whole as a ring, with a legend giving each share in per cent."""
    total = sum(v for _, v in items)
    if not total:
        return '<p class="muted">无数据</p>'
    r, c = size * 0.38, size / 2
    parts = [f'<svg class="chart" viewBox="0 0 {size + 260} {size}" width="{size + 260}" height="{size}" role="img">']
    angle = -math.pi / 2
    for i, (label, value) in enumerate(items):
        share = value / total
        color = PALETTE[i % len(PALETTE)]
        if share >= 0.9999:
            parts.append(f'<circle cx="{c}" cy="{c}" r="{r}" fill="none" stroke="{color}" stroke-width="{r * 0.5}"/>')
        elif share > 0:
            end = angle + 2 * math.pi * share
            x1, y1 = c + r * math.cos(angle), c + r * math.sin(angle)
            x2, y2 = c + r * math.cos(end), c + r * math.sin(end)
            large = 1 if share > 0.5 else 0
            parts.append(f'<path d="M{x1:.2f},{y1:.2f} A{r},{r} 0 {large} 1 {x2:.2f},{y2:.2f}" fill="none" '
                         f'stroke="{color}" stroke-width="{r * 0.5}"/>')
            angle = end
        ly = 24 + i * 24
        parts.append(f'<rect x="{size + 10}" y="{ly - 12}" width="14" height="14" fill="{color}"/>'
                     f'<text x="{size + 30}" y="{ly}">{escape(label)}：{value:g}（{share:.1%}）</text>')
    parts.append("</svg>")
    return "".join(parts)

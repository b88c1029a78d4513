"""Geometry for the server-drawn SVG charts and the knowledge map.

Functions here only compute coordinates; templates draw them (so every label is
escaped) with ``currentColor`` and CSS variables (so light and dark mode work).

The map's layout is a seeded Fruchterman-Reingold spring layout written out in
plain Python: networkx's own ``spring_layout`` and ``kamada_kawai_layout`` need
numpy (and scipy), which kcdir does not install for one drawing. A grid limits the
repulsion to nearby nodes, so a few hundred nodes lay out in well under a second.
"""

import math
import random
from dataclasses import dataclass, field

import networkx as nx

from . import caching

LAYOUT_CACHE_SECONDS = 600

# -- bar charts --------------------------------------------------------------------------


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    key: str  # CSS hook: series key
    title: str  # the bar's tooltip: category, series and value
    value_label: str = ""
    label_x: float = 0
    label_y: float = 0


@dataclass
class AxisLabel:
    x: float
    y: float
    text: str
    full_text: str = ""


@dataclass
class BarChartDrawing:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[AxisLabel] = field(default_factory=list)
    x_labels: list[AxisLabel] = field(default_factory=list)
    horizontal: bool = False


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``top`` (1, 2, 2.5 or 5 times a power of ten)."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if step < 1 and float(top).is_integer():
        step = 1
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(round(ticks[-1] + step, 6))
    return ticks


def _number(value) -> str:
    if value is None:
        return "—"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}"


def vertical_bars(
    categories: list[str],
    series: list,
    *,
    width: int = 480,
    height: int = 260,
    label_every: int = 1,
    show_values: bool | None = None,
) -> BarChartDrawing:
    """Grouped vertical bars: one group per category, one bar per series in it.

    ``series`` items have ``key``, ``label`` and ``values`` (None draws no bar).
    ``label_every`` thins the category labels (every third month, say).
    """
    left, right, top, bottom = 40, width - 8, 16, height - 30
    values = [v for s in series for v in s.values if v is not None]
    ticks = nice_ticks(max(values, default=0))
    scale = (bottom - top) / ticks[-1]
    drawing = BarChartDrawing(width, height, left, right, top, bottom)
    drawing.y_ticks = [AxisLabel(left - 6, bottom - t * scale, _number(t)) for t in ticks]
    group = (right - left) / max(len(categories), 1)
    bar_width = group * 0.8 / max(len(series), 1)
    if show_values is None:
        show_values = len(categories) * len(series) <= 12
    for index, category in enumerate(categories):
        x0 = left + index * group + group * 0.1
        if index % label_every == 0:
            drawing.x_labels.append(AxisLabel(left + (index + 0.5) * group, bottom + 18, category))
        for position, s in enumerate(series):
            value = s.values[index]
            if value is None:
                continue
            bar_height = value * scale
            x = x0 + position * bar_width
            drawing.bars.append(
                Bar(
                    x=round(x + 1, 1),
                    y=round(bottom - bar_height, 1),
                    width=round(max(bar_width - 2, 1), 1),
                    height=round(bar_height, 1),
                    key=s.key,
                    title=f"{category}, {s.label}: {_number(value)}",
                    value_label=_number(value) if show_values else "",
                    label_x=round(x + bar_width / 2, 1),
                    label_y=round(bottom - bar_height - 4, 1),
                )
            )
    return drawing


def horizontal_bars(
    labels: list[str], values: list, *, key: str = "all", width: int = 480, max_chars: int = 52
) -> BarChartDrawing:
    """One bar per label, the label written above its bar and the value after it."""
    row, top = 40, 8
    height = top + row * len(labels) + 4
    left, right = 4, width - 40
    drawing = BarChartDrawing(width, height, left, right, top, height - 4, horizontal=True)
    longest = max((v for v in values if v is not None), default=0) or 1
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + index * row
        bar_width = (right - left) * (value or 0) / longest
        short = label if len(label) <= max_chars else label[: max_chars - 1].rstrip() + "…"
        drawing.x_labels.append(AxisLabel(left, y + 13, short, label))
        drawing.bars.append(
            Bar(
                x=left,
                y=y + 18,
                width=round(max(bar_width, 1), 1),
                height=14,
                key=key,
                title=f"{label}: {_number(value)}",
                value_label=_number(value),
                label_x=round(left + bar_width + 6, 1),
                label_y=y + 30,
            )
        )
    return drawing


def draw_chart(chart) -> BarChartDrawing:
    """The drawing for an ``insights.Chart``, by its ``shape``."""
    if chart.shape == "rows":
        series = chart.series[0]
        return horizontal_bars(chart.categories, series.values, key=series.key)
    return vertical_bars(chart.categories, chart.series, label_every=chart.label_every)


# -- the knowledge map -------------------------------------------------------------------


def spring_layout(
    graph: nx.Graph, *, seed: int = 2026, iterations: int | None = None
) -> dict[object, tuple[float, float]]:
    """Positions in the unit square: weighted Fruchterman-Reingold with gravity,
    deterministic for a given graph and seed (nodes are taken in sorted order).
    Big graphs get fewer iterations, so the time stays bounded."""
    nodes = sorted(graph.nodes)
    count = len(nodes)
    if count == 0:
        return {}
    if count == 1:
        return {nodes[0]: (0.5, 0.5)}
    if iterations is None:
        iterations = max(50, min(120, 6000 // count))
    rng = random.Random(seed)  # noqa: S311 (starting positions for a drawing)
    index = {node: i for i, node in enumerate(nodes)}
    xs = [rng.random() for _ in nodes]
    ys = [rng.random() for _ in nodes]
    heaviest = max((w for _a, _b, w in graph.edges(data="weight", default=1)), default=1)
    edges = [
        (index[a], index[b], 0.3 + 0.7 * w / heaviest)
        for a, b, w in graph.edges(data="weight", default=1)
    ]
    k = math.sqrt(1.0 / count)
    reach = 3 * k  # repulsion cut-off (the original paper's grid variant uses 2k)
    temperature = 0.1
    cooling = temperature / (iterations + 1)
    for _step in range(iterations):
        dx = [0.0] * count
        dy = [0.0] * count
        grid: dict[tuple[int, int], list[int]] = {}
        for i in range(count):
            grid.setdefault((int(xs[i] / reach), int(ys[i] / reach)), []).append(i)
        for (cx, cy), members in grid.items():
            near = [
                j
                for ox in (-1, 0, 1)
                for oy in (-1, 0, 1)
                for j in grid.get((cx + ox, cy + oy), ())
            ]
            for i in members:
                xi, yi = xs[i], ys[i]
                for j in near:
                    if j == i:
                        continue
                    ddx, ddy = xi - xs[j], yi - ys[j]
                    distance2 = ddx * ddx + ddy * ddy
                    if distance2 >= reach * reach:
                        continue
                    if distance2 < 1e-12:
                        ddx, ddy, distance2 = 0.001 * (i - j), 0.001, 1e-6
                    force = k * k / distance2  # k²/d, times the unit vector (ddx/d)
                    dx[i] += ddx * force
                    dy[i] += ddy * force
        for i, j, strength in edges:
            ddx, ddy = xs[i] - xs[j], ys[i] - ys[j]
            distance = math.hypot(ddx, ddy) or 1e-6
            force = distance * strength / k  # d²/k, times the unit vector
            dx[i] -= ddx * force
            dy[i] -= ddy * force
            dx[j] += ddx * force
            dy[j] += ddy * force
        for i in range(count):
            # Gravity keeps separate clusters on the page.
            dx[i] += (0.5 - xs[i]) * 0.3 * k
            dy[i] += (0.5 - ys[i]) * 0.3 * k
            length = math.hypot(dx[i], dy[i])
            if length > 0:
                step = min(length, temperature) / length
                xs[i] += dx[i] * step
                ys[i] += dy[i] * step
        temperature -= cooling
    return {node: (xs[i], ys[i]) for node, i in index.items()}


def cached_layout(graph: nx.Graph) -> dict[object, tuple[float, float]]:
    """``spring_layout`` of the graph, remembered for a while: the same filters
    give the same graph, and laying it out again would give the same picture."""
    edges = sorted((min(a, b), max(a, b), w) for a, b, w in graph.edges(data="weight"))
    shape = (tuple(sorted(graph.nodes)), tuple(edges))
    return caching.remembered(
        "map-layout", shape, lambda: spring_layout(graph), LAYOUT_CACHE_SECONDS
    )


@dataclass
class MapNode:
    community: object
    x: float
    y: float
    radius: float
    # Knowledge communities are drawn as squares of the same area as a circle.
    square_x: float = 0
    square_y: float = 0
    square_side: float = 0
    label: str = ""  # left empty where the name would cover another mark or label
    label_x: float = 0
    label_y: float = 0
    anchor: str = "start"


@dataclass
class MapEdge:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float
    opacity: float
    title: str


@dataclass
class MapDrawing:
    width: int
    height: int
    nodes: list[MapNode]
    edges: list[MapEdge]


FONT = 13
CHAR_WIDTH = 0.56 * FONT


def _label_box(x, y, text, anchor):
    width = len(text) * CHAR_WIDTH
    left = x if anchor == "start" else x - width if anchor == "end" else x - width / 2
    return (left, y - FONT * 0.8, left + width, y + FONT * 0.25)


def _overlaps(box, other) -> bool:
    return box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]


def knowledge_map(
    nodes: list, links: list, *, width: int = 760, height: int = 560, max_label: int = 26
) -> MapDrawing:
    """Place the communities (``nodes``, with ``active_member_count``) and the
    ``links`` between them (``source``, ``target``, ``shared``) on a canvas.

    Larger communities get larger marks and are labelled first; a label that
    would cover another label or a mark is left out (the mark keeps its tooltip).
    """
    graph = nx.Graph()
    graph.add_nodes_from(node.pk for node in nodes)
    graph.add_weighted_edges_from((link.source.pk, link.target.pk, link.shared) for link in links)
    if not nodes:
        return MapDrawing(width, height, [], [])
    positions = cached_layout(graph)
    margin = 24
    min_x = min(x for x, _y in positions.values())
    max_x = max(x for x, _y in positions.values())
    min_y = min(y for _x, y in positions.values())
    max_y = max(y for _x, y in positions.values())
    span_x = (max_x - min_x) or 1
    span_y = (max_y - min_y) or 1
    # Room at the sides for labels of the outermost marks.
    inner_left, inner_right = margin + 40, width - margin - 40

    def place(pk):
        x, y = positions[pk]
        return (
            inner_left + (x - min_x) / span_x * (inner_right - inner_left),
            margin + (y - min_y) / span_y * (height - 2 * margin),
        )

    largest = max((node.active_member_count or 0 for node in nodes), default=0) or 1
    placed = {}
    for node in nodes:
        x, y = place(node.pk)
        radius = 5 + 15 * math.sqrt((node.active_member_count or 0) / largest)
        side = radius * math.sqrt(math.pi)
        placed[node.pk] = MapNode(
            node,
            round(x, 1),
            round(y, 1),
            round(radius, 1),
            square_x=round(x - side / 2, 1),
            square_y=round(y - side / 2, 1),
            square_side=round(side, 1),
        )
    heaviest = max((link.shared for link in links), default=1)
    edges = []
    for link in sorted(links, key=lambda link: link.shared):
        a, b = placed[link.source.pk], placed[link.target.pk]
        share = link.shared / heaviest
        edges.append(
            MapEdge(
                a.x,
                a.y,
                b.x,
                b.y,
                width=round(1 + 6 * share, 1),
                opacity=round(0.25 + 0.6 * share, 2),
                title=f"{link.source.name} – {link.target.name}: {link.shared}",
            )
        )
    _place_labels(
        sorted(placed.values(), key=lambda n: -n.radius), width, height, max_label=max_label
    )
    return MapDrawing(width, height, list(placed.values()), edges)


def _place_labels(nodes: list[MapNode], width: int, height: int, *, max_label: int) -> None:
    taken = [(n.x - n.radius, n.y - n.radius, n.x + n.radius, n.y + n.radius) for n in nodes]
    for node in nodes:
        name = node.community.name
        text = name if len(name) <= max_label else name[: max_label - 1].rstrip() + "…"
        gap = node.radius + 4
        diagonal = gap * 0.75
        candidates = [
            (node.x + gap, node.y + FONT * 0.35, "start"),
            (node.x - gap, node.y + FONT * 0.35, "end"),
            (node.x, node.y + gap + FONT * 0.8, "middle"),
            (node.x, node.y - gap - 2, "middle"),
            (node.x + diagonal, node.y - diagonal - 2, "start"),
            (node.x + diagonal, node.y + diagonal + FONT * 0.8, "start"),
            (node.x - diagonal, node.y - diagonal - 2, "end"),
            (node.x - diagonal, node.y + diagonal + FONT * 0.8, "end"),
            (node.x - node.radius, node.y + gap + FONT * 0.8, "start"),
            (node.x + node.radius, node.y + gap + FONT * 0.8, "end"),
            (node.x - node.radius, node.y - gap - 2, "start"),
            (node.x + node.radius, node.y - gap - 2, "end"),
        ]
        own = (
            node.x - node.radius,
            node.y - node.radius,
            node.x + node.radius,
            node.y + node.radius,
        )
        for x, y, anchor in candidates:
            box = _label_box(x, y, text, anchor)
            inside = box[0] >= 2 and box[2] <= width - 2 and box[1] >= 2 and box[3] <= height - 2
            if inside and not any(_overlaps(box, other) for other in taken if other != own):
                node.label, node.label_x, node.label_y, node.anchor = text, x, y, anchor
                taken.append(box)
                break

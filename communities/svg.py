"""Geometry for the server-drawn SVG charts and the knowledge map.

Functions here only compute coordinates; templates draw them (so every label is
escaped) with ``currentColor`` and CSS variables (so light and dark mode work).

The knowledge map is laid out by networkx in two levels: Louvain community detection
(seeded, weighted by people in common) groups the communities into clusters; a
seeded spring layout places the clusters relative to each other (by the people their
communities share) and, inside each cluster, its communities. Cluster areas are then
pushed apart so none overlaps another, and labels are placed greedily, largest first,
where they cover no other label or mark (the rest are shortened or left out; the list
under the map names everything).
"""

import math
import string
from dataclasses import dataclass, field

import networkx as nx
from django.utils.translation import ngettext

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

SEED = 2026  # the same graph always gives the same picture
CLUSTER_COLOURS = 8  # CSS classes cluster-0 … cluster-7, repeated past eight clusters
NODE_SPACING = 1.0  # layout units between neighbouring marks; one unit is at most…
MAX_UNIT = 46  # …this many pixels, so a small map is not blown up
MAP_WIDTH = 800  # about the width the map column has on a laptop: text at its set size
MARGIN = 12
# A cluster this big is named on the drawing; a smaller one (two communities, each
# labelled beside it) shows its letter only, which keeps the drawing uncluttered.
NAMED_CLUSTER = 3


def find_clusters(graph: nx.Graph, *, seed: int = SEED) -> list[list]:
    """The graph's nodes grouped by Louvain community detection, weighted by people in
    common: the clusters with the most nodes first (ties: the lowest node), each
    cluster's nodes in sorted order. Deterministic for
    a given graph and seed (the graph is rebuilt in sorted order first)."""
    if graph.number_of_nodes() == 0:
        return []
    ordered = _sorted_copy(graph)
    found = nx.community.louvain_communities(ordered, weight="weight", seed=seed)
    clusters = [sorted(cluster) for cluster in found]
    return sorted(clusters, key=lambda cluster: (-len(cluster), cluster[0]))


def _sorted_copy(graph: nx.Graph) -> nx.Graph:
    ordered = nx.Graph()
    ordered.add_nodes_from(sorted(graph.nodes))
    ordered.add_weighted_edges_from(
        sorted((min(a, b), max(a, b), w) for a, b, w in graph.edges(data="weight", default=1))
    )
    return ordered


def cluster_layout(graph: nx.Graph, *, seed: int = SEED) -> dict:
    """Clusters and positions in layout units (about one unit between marks).

    Returns ``{"clusters": [[node, …], …], "centres": [(x, y), …], "radii": [r, …],
    "positions": {node: (x, y)}}``: each cluster is a disc holding its nodes, and no
    two discs overlap.
    """
    graph = _sorted_copy(graph)
    clusters = find_clusters(graph, seed=seed)
    positions: dict = {}
    local: list[dict] = []
    radii: list[float] = []
    for cluster in clusters:
        inside = _layout_inside(graph.subgraph(cluster), seed=seed)
        local.append(inside)
        reach = max((math.hypot(x, y) for x, y in inside.values()), default=0)
        radii.append(reach + NODE_SPACING * 0.9)
    centres = _layout_clusters(graph, clusters, radii, seed=seed)
    for (cx, cy), inside in zip(centres, local, strict=True):
        for node, (x, y) in inside.items():
            positions[node] = (cx + x, cy + y)
    return {"clusters": clusters, "centres": centres, "radii": radii, "positions": positions}


def _layout_inside(subgraph: nx.Graph, *, seed: int) -> dict:
    """A cluster's nodes around (0, 0), about ``NODE_SPACING`` apart."""
    nodes = sorted(subgraph.nodes)
    if len(nodes) == 1:
        return {nodes[0]: (0.0, 0.0)}
    if len(nodes) == 2:
        half = NODE_SPACING * 0.75
        return {nodes[0]: (-half, 0.0), nodes[1]: (half, 0.0)}
    found = nx.spring_layout(subgraph, weight="weight", seed=seed, iterations=100)
    points = {node: (float(found[node][0]), float(found[node][1])) for node in nodes}
    # Scale so the closest two marks are a spacing apart, within a disc whose area
    # grows with the number of marks (a few crowded marks must not blow it up).
    closest = min(
        math.dist(points[a], points[b]) for i, a in enumerate(nodes) for b in nodes[i + 1 :]
    )
    reach = max(math.hypot(x, y) for x, y in points.values()) or 1
    scale = min(
        NODE_SPACING / max(closest, 1e-6), 0.85 * NODE_SPACING * math.sqrt(len(nodes)) / reach
    )
    scale = max(scale, 0.6 * NODE_SPACING * math.sqrt(len(nodes)) / reach)
    return {node: (x * scale, y * scale) for node, (x, y) in points.items()}


def _layout_clusters(graph: nx.Graph, clusters, radii, *, seed: int) -> list[tuple[float, float]]:
    """Cluster centres: a spring layout of the clusters, linked by the people their
    communities share, then pushed apart until no two discs overlap."""
    if len(clusters) == 1:
        return [(0.0, 0.0)]
    owner = {node: index for index, cluster in enumerate(clusters) for node in cluster}
    between = nx.Graph()
    between.add_nodes_from(range(len(clusters)))
    for a, b, weight in graph.edges(data="weight", default=1):
        ca, cb = owner[a], owner[b]
        if ca != cb:
            old = between.get_edge_data(ca, cb, {"weight": 0})["weight"]
            between.add_edge(ca, cb, weight=old + weight)
    spread = math.sqrt(sum(r * r for r in radii)) * 1.2
    found = nx.spring_layout(between, weight="weight", seed=seed, scale=spread, iterations=100)
    centres = [[float(found[i][0]), float(found[i][1])] for i in range(len(clusters))]
    _separate(centres, radii, gap=NODE_SPACING * 0.6)
    return [(x, y) for x, y in centres]


def _separate(centres: list[list[float]], radii: list[float], *, gap: float) -> None:
    """Move discs apart (in place) until none overlaps another, then draw them in
    towards their middle as far as that keeps them apart: a tidy, compact picture."""
    count = len(centres)
    for _round in range(60):
        _push_apart(centres, radii, gap)
        middle_x = sum(c[0] for c in centres) / count
        middle_y = sum(c[1] for c in centres) / count
        moved = [
            [middle_x + (x - middle_x) * 0.9, middle_y + (y - middle_y) * 0.9] for x, y in centres
        ]
        if _overlapping(moved, radii, gap):
            break
        centres[:] = moved
    _push_apart(centres, radii, gap)


def _overlapping(centres, radii, gap) -> bool:
    return any(
        math.dist(centres[i], centres[j]) < radii[i] + radii[j] + gap - 1e-9
        for i in range(len(centres))
        for j in range(i + 1, len(centres))
    )


def _push_apart(centres, radii, gap) -> None:
    count = len(centres)
    for _step in range(2000):
        moved = False
        for i in range(count):
            for j in range(i + 1, count):
                dx = centres[j][0] - centres[i][0]
                dy = centres[j][1] - centres[i][1]
                distance = math.hypot(dx, dy)
                wanted = radii[i] + radii[j] + gap
                if distance >= wanted:
                    continue
                if distance < 1e-9:  # on top of each other: part them along a fixed slope
                    dx, dy, distance = 1.0 + i, 1.0 + j, math.hypot(1.0 + i, 1.0 + j)
                push = (wanted - distance) / 2 + 1e-6
                ux, uy = dx / distance, dy / distance
                centres[i][0] -= ux * push
                centres[i][1] -= uy * push
                centres[j][0] += ux * push
                centres[j][1] += uy * push
                moved = True
        if not moved:
            return


def cached_layout(graph: nx.Graph) -> dict:
    """``cluster_layout`` of the graph, remembered for a while: the same filters
    give the same graph, and laying it out again would give the same picture."""
    edges = sorted((min(a, b), max(a, b), w) for a, b, w in graph.edges(data="weight"))
    shape = (tuple(sorted(graph.nodes)), tuple(edges))
    return caching.remembered(
        "map-layout", shape, lambda: cluster_layout(graph), LAYOUT_CACHE_SECONDS
    )


@dataclass
class MapCluster:
    letter: str  # "A", "B", … (then "AA"): names the cluster in the legend and on the map
    name: str  # the name of its community with the most members
    communities: list  # biggest first
    colour: int  # CSS hook: cluster-<colour>
    x: float = 0
    y: float = 0
    radius: float = 0
    label: str = ""  # left empty where it would cover another label or a mark
    label_x: float = 0
    label_y: float = 0
    abbreviated: bool = False  # shortened, or the letter alone


@dataclass
class MapNode:
    community: object
    x: float
    y: float
    radius: float
    cluster: MapCluster | None = None
    focused: bool = False
    # Knowledge communities are drawn as squares of the same area as a circle.
    square_x: float = 0
    square_y: float = 0
    square_side: float = 0
    label: str = ""  # left empty where the name would cover another mark or label
    label_x: float = 0
    label_y: float = 0
    anchor: str = "start"
    abbreviated: bool = False


@dataclass
class MapEdge:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float
    opacity: float
    title: str
    between: bool = False  # one line for all the links between two clusters


@dataclass
class MapDrawing:
    width: int
    height: int
    nodes: list[MapNode]
    edges: list[MapEdge]
    clusters: list[MapCluster] = field(default_factory=list)

    @property
    def bundled(self) -> bool:
        """Whether a line stands for all the links between two clusters."""
        return any(edge.between for edge in self.edges)


FONT = 13
CLUSTER_FONT = 14
# Generous average glyph widths (system sans-serif, regular and bold), plus padding,
# so that a label's computed box holds its drawn text.
CHAR_WIDTH = 0.6 * FONT
CLUSTER_CHAR_WIDTH = 0.66 * CLUSTER_FONT
LABEL_PAD = 2


def cluster_letter(index: int) -> str:
    letters = string.ascii_uppercase
    return (
        letters[index]
        if index < len(letters)
        else cluster_letter(index // 26 - 1) + letters[index % 26]
    )


def _label_box(x, y, text, anchor, *, font=FONT, char_width=CHAR_WIDTH):
    width = len(text) * char_width
    left = x if anchor == "start" else x - width if anchor == "end" else x - width / 2
    return (
        left - LABEL_PAD,
        y - font * 0.85 - LABEL_PAD,
        left + width + LABEL_PAD,
        y + font * 0.3 + LABEL_PAD,
    )


def _overlaps(box, other) -> bool:
    return box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]


def _shorten(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[: limit - 1].rstrip() + "…", True


def knowledge_map(
    nodes: list,
    links: list,
    *,
    focus=None,
    bundle: bool = True,
    width: int = MAP_WIDTH,
    max_label: int = 24,
) -> MapDrawing:
    """Place the communities (``nodes``, with ``active_member_count``) and the
    ``links`` between them (``source``, ``target``, ``shared``) on a canvas.

    Communities are grouped into clusters, each drawn as a shaded disc with its
    letter and name. With ``bundle``, the links between two clusters are drawn as
    one line (its width: their people in common added up); links inside a cluster
    are drawn one by one. ``focus`` (a community) is highlighted and labelled first.
    Larger communities get larger marks and are labelled next; a label that would
    cover another label or a mark is shortened or left out (the mark keeps its tooltip).
    """
    if not nodes:
        return MapDrawing(width, 320, [], [])
    graph = nx.Graph()
    graph.add_nodes_from(node.pk for node in nodes)
    graph.add_weighted_edges_from((link.source.pk, link.target.pk, link.shared) for link in links)
    layout = cached_layout(graph)
    positions, radii = layout["positions"], layout["radii"]
    centres = layout["centres"]
    # The canvas: the discs' extent, plus room above each for its cluster's label.
    min_x = min(cx - r for (cx, _cy), r in zip(centres, radii, strict=True))
    max_x = max(cx + r for (cx, _cy), r in zip(centres, radii, strict=True))
    min_y = min(cy - r for (_cx, cy), r in zip(centres, radii, strict=True))
    max_y = max(cy + r for (_cx, cy), r in zip(centres, radii, strict=True))
    top = MARGIN + CLUSTER_FONT + 8
    unit = min(MAX_UNIT, (width - 2 * MARGIN) / max(max_x - min_x, 1e-6))
    used = (max_x - min_x) * unit
    offset_x = (width - used) / 2
    height = max(320, math.ceil(top + (max_y - min_y) * unit + MARGIN))

    def place(x, y):
        return offset_x + (x - min_x) * unit, top + (y - min_y) * unit

    by_pk = {node.pk: node for node in nodes}
    clusters = []
    owner = {}
    for index, (members, (cx, cy), r) in enumerate(
        zip(layout["clusters"], centres, radii, strict=True)
    ):
        communities = sorted(
            (by_pk[pk] for pk in members), key=lambda c: (-(c.active_member_count or 0), c.name)
        )
        x, y = place(cx, cy)
        cluster = MapCluster(
            letter=cluster_letter(index),
            name=communities[0].name,
            communities=communities,
            colour=index % CLUSTER_COLOURS,
            x=round(x, 1),
            y=round(y, 1),
            radius=round(r * unit, 1),
        )
        clusters.append(cluster)
        for pk in members:
            owner[pk] = cluster

    largest = max((node.active_member_count or 0 for node in nodes), default=0) or 1
    biggest_mark = min(16, max(6, unit * 0.4))
    placed = {}
    for node in nodes:
        x, y = place(*positions[node.pk])
        radius = 4 + (biggest_mark - 4) * math.sqrt((node.active_member_count or 0) / largest)
        side = radius * math.sqrt(math.pi)
        placed[node.pk] = MapNode(
            node,
            round(x, 1),
            round(y, 1),
            round(radius, 1),
            cluster=owner[node.pk],
            focused=focus is not None and node.pk == focus.pk,
            square_x=round(x - side / 2, 1),
            square_y=round(y - side / 2, 1),
            square_side=round(side, 1),
        )
    edges = _edges(links, placed, bundle=bundle)
    _place_cluster_labels(clusters, placed, width, height)
    order = sorted(placed.values(), key=lambda n: (not n.focused, -n.radius, n.community.name))
    taken = [_mark_box(n) for n in placed.values()]
    taken += [
        _label_box(
            c.label_x,
            c.label_y,
            c.label,
            "middle",
            font=CLUSTER_FONT,
            char_width=CLUSTER_CHAR_WIDTH,
        )
        for c in clusters
        if c.label
    ]
    _place_labels(order, taken, width, height, max_label=max_label)
    return MapDrawing(width, height, list(placed.values()), edges, clusters)


def _edges(links, placed, *, bundle: bool) -> list[MapEdge]:
    """A line per link inside a cluster and per link of the focused community; with
    ``bundle``, one line for all the other links between two clusters."""

    def alone(link) -> bool:
        a, b = placed[link.source.pk], placed[link.target.pk]
        return not bundle or a.cluster is b.cluster or a.focused or b.focused

    inside = [link for link in links if alone(link)]
    across: dict[tuple, list] = {}
    for link in links:
        if not alone(link):
            a, b = placed[link.source.pk].cluster, placed[link.target.pk].cluster
            key = (a, b) if a.letter < b.letter else (b, a)
            across.setdefault((key[0].letter, key[1].letter), [key, []])[1].append(link)
    heaviest = max(
        [link.shared for link in inside]
        + [sum(link.shared for link in group) for _key, group in across.values()],
        default=1,
    )
    edges = []
    for link in sorted(inside, key=lambda link: link.shared):
        a, b = placed[link.source.pk], placed[link.target.pk]
        share = link.shared / heaviest
        edges.append(
            MapEdge(
                a.x,
                a.y,
                b.x,
                b.y,
                width=round(1 + 5 * share, 1),
                opacity=round(0.3 + 0.5 * share, 2),
                title=f"{link.source.name} – {link.target.name}: {link.shared}",
            )
        )
    for (a, b), group in sorted(
        across.values(), key=lambda item: (item[0][0].letter, item[0][1].letter)
    ):
        total = sum(link.shared for link in group)
        share = total / heaviest
        dx, dy = b.x - a.x, b.y - a.y
        distance = math.hypot(dx, dy) or 1
        ux, uy = dx / distance, dy / distance
        edges.append(
            MapEdge(
                round(a.x + ux * a.radius, 1),
                round(a.y + uy * a.radius, 1),
                round(b.x - ux * b.radius, 1),
                round(b.y - uy * b.radius, 1),
                width=round(1.5 + 6 * share, 1),
                opacity=round(0.35 + 0.45 * share, 2),
                title=ngettext(
                    "Clusters %(one)s and %(other)s: "
                    "%(shared)d people in common over %(count)d link",
                    "Clusters %(one)s and %(other)s: "
                    "%(shared)d people in common over %(count)d links",
                    len(group),
                )
                % {"one": a.letter, "other": b.letter, "shared": total, "count": len(group)},
                between=True,
            )
        )
    return edges


def _mark_box(node: MapNode):
    reach = node.radius + (3 if node.focused else 1)
    return (node.x - reach, node.y - reach, node.x + reach, node.y + reach)


def _inside(box, width, height) -> bool:
    return box[0] >= 1 and box[2] <= width - 1 and box[1] >= 1 and box[3] <= height - 1


def _place_cluster_labels(clusters, placed, width, height) -> None:
    """Each cluster's letter and name where it covers no mark and no other cluster's
    label: above its disc, below, inside at the top, then around it; shortened, then
    the letter alone (further out if need be), where the whole does not fit."""
    marks = [_mark_box(n) for n in placed.values()]
    taken: list = []
    for cluster in sorted(clusters, key=lambda c: -len(c.communities)):
        full = f"{cluster.letter} · {cluster.name}"
        texts = [(cluster.letter, True)]
        if len(cluster.communities) >= NAMED_CLUSTER:
            texts[:0] = [_shorten(full, 26), _shorten(full, 16)]
        for text, abbreviated in texts:
            rings = 3 if text == cluster.letter else 0
            spot = next(
                (
                    (x, y, box)
                    for x, y in _cluster_label_spots(cluster, text, rings=rings)
                    if _inside(
                        box := _label_box(
                            x, y, text, "middle", font=CLUSTER_FONT, char_width=CLUSTER_CHAR_WIDTH
                        ),
                        width,
                        height,
                    )
                    and not any(_overlaps(box, other) for other in taken + marks)
                ),
                None,
            )
            if spot is not None:
                cluster.label_x, cluster.label_y, box = spot
                cluster.label, cluster.abbreviated = text, abbreviated
                taken.append(box)
                break


def _cluster_label_spots(cluster: MapCluster, text: str, *, rings: int):
    """Where a cluster's label may go (its text's middle and baseline), best first."""
    half = len(text) * CLUSTER_CHAR_WIDTH / 2
    yield cluster.x, round(cluster.y - cluster.radius - 5, 1)
    yield cluster.x, round(cluster.y + cluster.radius + CLUSTER_FONT + 2, 1)
    yield cluster.x, round(cluster.y - cluster.radius + CLUSTER_FONT + 4, 1)
    # Then around the disc, clockwise from the top, in rings further and further out.
    for ring in range(rings):
        for step in range(12):
            angle = math.pi / 2 - step * math.pi / 6
            reach = cluster.radius + 6 + 16 * ring + half * abs(math.cos(angle))
            yield (
                round(cluster.x + reach * math.cos(angle), 1),
                round(cluster.y - reach * math.sin(angle) + CLUSTER_FONT * 0.3, 1),
            )


def _place_labels(
    nodes: list[MapNode], taken: list, width: int, height: int, *, max_label: int
) -> None:
    """Label each node (in the given order) at the first spot around its mark where the
    label covers no other label or mark; if none, try a shorter name, else leave it out."""
    for node in nodes:
        own = _mark_box(node)
        others = [box for box in taken if box != own]
        for limit in (max_label, 16, 11):
            text, abbreviated = _shorten(node.community.name, limit)
            spot = _label_spot(node, text, others, width, height)
            if spot is not None:
                node.label, node.abbreviated = text, abbreviated
                node.label_x, node.label_y, node.anchor, box = spot
                taken.append(box)
                break


def _label_spot(node: MapNode, text: str, others: list, width: int, height: int):
    gap = node.radius + 3
    diagonal = gap * 0.75
    below = FONT * 0.85
    candidates = [
        (node.x + gap, node.y + FONT * 0.3, "start"),
        (node.x - gap, node.y + FONT * 0.3, "end"),
        (node.x, node.y + gap + below, "middle"),
        (node.x, node.y - gap - 3, "middle"),
        (node.x + diagonal, node.y - diagonal - 3, "start"),
        (node.x + diagonal, node.y + diagonal + below, "start"),
        (node.x - diagonal, node.y - diagonal - 3, "end"),
        (node.x - diagonal, node.y + diagonal + below, "end"),
    ]
    for x, y, anchor in candidates:
        x, y = round(x, 1), round(y, 1)
        box = _label_box(x, y, text, anchor)
        if _inside(box, width, height) and not any(_overlaps(box, other) for other in others):
            return x, y, anchor, box
    return None

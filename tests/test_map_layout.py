"""The knowledge map's geometry (svg.py): clusters found by networkx, laid out by
networkx, every mark on the canvas, and no label covering another label or a mark."""

import random
from itertools import combinations
from types import SimpleNamespace

import pytest
from django.core.cache import cache

from communities import svg


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Layouts are cached by the graph's shape: each test lays out afresh."""
    cache.clear()


def community(pk, name=None, members=10):
    return SimpleNamespace(pk=pk, name=name or f"Community {pk}", active_member_count=members)


def link(a, b, shared):
    return SimpleNamespace(source=a, target=b, shared=shared)


def two_groups():
    """Two tight groups of four (many people in common) joined by one weak link."""
    nodes = [
        community(pk, f"Group {'A' if pk < 5 else 'B'} member {pk}", pk * 3) for pk in range(1, 9)
    ]
    by_pk = {node.pk: node for node in nodes}
    links = [link(by_pk[a], by_pk[b], 9) for a, b in combinations(range(1, 5), 2)]
    links += [link(by_pk[a], by_pk[b], 8) for a, b in combinations(range(5, 9), 2)]
    links.append(link(by_pk[4], by_pk[5], 1))
    return nodes, links


def random_network(size, link_count, seed):
    """Like a directory's strongest links: long names, uneven sizes, hubs."""
    rng = random.Random(seed)
    words = [
        "Claims",
        "Fraud",
        "Data",
        "Python",
        "Underwriting",
        "Pricing",
        "Cyber",
        "Risk",
        "Clinic",
        "Guild",
        "Circle",
        "Network",
        "Analytics",
        "Operations",
        "Wellbeing",
    ]
    nodes = [
        community(pk, " ".join(rng.sample(words, rng.randint(1, 4))) + f" {pk}", rng.randint(1, 90))
        for pk in range(1, size + 1)
    ]
    pairs = set()
    while len(pairs) < link_count:
        a = rng.randrange(size)
        b = (a + rng.choice([1, 2, 3, rng.randrange(1, size)])) % size
        if a != b:
            pairs.add((min(a, b), max(a, b)))
    links = [link(nodes[a], nodes[b], rng.randint(1, 15)) for a, b in sorted(pairs)]
    linked = {pk for item in links for pk in (item.source.pk, item.target.pk)}
    return [node for node in nodes if node.pk in linked], links


def geometry(drawing):
    """Everything a test compares: positions, sizes, labels."""
    return (
        drawing.width,
        drawing.height,
        [
            (n.community.pk, n.x, n.y, n.radius, n.label, n.label_x, n.label_y, n.anchor)
            for n in drawing.nodes
        ],
        [(c.letter, c.name, c.x, c.y, c.radius, c.label, c.label_y) for c in drawing.clusters],
        [(e.x1, e.y1, e.x2, e.y2, e.width) for e in drawing.edges],
    )


def label_boxes(drawing):
    boxes = [
        (
            f"cluster {c.letter}",
            svg._label_box(
                c.label_x,
                c.label_y,
                c.label,
                "middle",
                font=svg.CLUSTER_FONT,
                char_width=svg.CLUSTER_CHAR_WIDTH,
            ),
        )
        for c in drawing.clusters
        if c.label
    ]
    boxes += [
        (n.community.name, svg._label_box(n.label_x, n.label_y, n.label, n.anchor))
        for n in drawing.nodes
        if n.label
    ]
    return boxes


NETWORKS = {
    "two groups": two_groups,
    "12 communities": lambda: random_network(12, 14, seed=1),
    "60 communities": lambda: random_network(60, 80, seed=2),
    "150 links": lambda: random_network(220, 150, seed=3),
}


def test_the_hand_written_spring_layout_is_gone():
    assert not hasattr(svg, "spring_layout")


def test_clusters_follow_the_people_communities_share():
    nodes, links = two_groups()

    drawing = svg.knowledge_map(nodes, links)

    # Most communities first; a tie goes to the one holding the lowest id.
    assert [sorted(c.pk for c in cluster.communities) for cluster in drawing.clusters] == [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
    ]
    # Named after their largest community (most active members), lettered in order.
    assert [(c.letter, c.name) for c in drawing.clusters] == [
        ("A", "Group A member 4"),
        ("B", "Group B member 8"),
    ]
    assert [c.label for c in drawing.clusters] == ["A · Group A member 4", "B · Group B member 8"]
    # One line inside each group per link; one line for the links between the groups.
    assert sum(1 for e in drawing.edges if not e.between) == 12
    [between] = [e for e in drawing.edges if e.between]
    assert between.title == "Clusters A and B: 1 people in common over 1 link"


@pytest.mark.parametrize("network", list(NETWORKS))
def test_layout_is_the_same_every_time(network):
    nodes, links = NETWORKS[network]()
    first = geometry(svg.knowledge_map(nodes, links))
    cache.clear()

    again = geometry(svg.knowledge_map(list(reversed(nodes)), list(reversed(links))))

    assert sorted(first[2]) == sorted(again[2])
    assert first[:2] == again[:2] and first[3] == again[3]


@pytest.mark.parametrize("network", list(NETWORKS))
def test_every_mark_and_label_is_inside_the_drawing(network):
    nodes, links = NETWORKS[network]()

    drawing = svg.knowledge_map(nodes, links)

    assert {n.community.pk for n in drawing.nodes} == {node.pk for node in nodes}
    for node in drawing.nodes:
        assert node.radius <= node.x <= drawing.width - node.radius
        assert node.radius <= node.y <= drawing.height - node.radius
    for name, (left, top, right, bottom) in label_boxes(drawing):
        assert left >= 0 and right <= drawing.width, name
        assert top >= 0 and bottom <= drawing.height, name


@pytest.mark.parametrize("network", list(NETWORKS))
def test_no_label_overlaps_another_label_or_a_mark(network):
    nodes, links = NETWORKS[network]()

    drawing = svg.knowledge_map(nodes, links)

    boxes = label_boxes(drawing)
    for (one, box), (other, other_box) in combinations(boxes, 2):
        assert not svg._overlaps(box, other_box), f"{one!r} covers {other!r}"
    for node in drawing.nodes:
        mark = svg._mark_box(node)
        for name, box in boxes:
            if name != node.community.name:
                assert not svg._overlaps(box, mark), f"{name!r} covers {node.community.name}'s mark"


@pytest.mark.parametrize("network", list(NETWORKS))
def test_clusters_are_labelled_and_do_not_overlap(network):
    nodes, links = NETWORKS[network]()

    drawing = svg.knowledge_map(nodes, links)

    assert sum(len(c.communities) for c in drawing.clusters) == len(nodes)
    # Every cluster has a letter and a name (in the list under the map), and on the
    # drawing at least its letter.
    assert all(c.label.startswith(c.letter) for c in drawing.clusters)
    # Clusters of three or more are named on the drawing; smaller ones show their letter.
    for cluster in drawing.clusters:
        if len(cluster.communities) < svg.NAMED_CLUSTER:
            assert cluster.label == cluster.letter
    assert len({c.letter for c in drawing.clusters}) == len(drawing.clusters)
    for one, other in combinations(drawing.clusters, 2):
        distance = ((one.x - other.x) ** 2 + (one.y - other.y) ** 2) ** 0.5
        assert distance >= one.radius + other.radius
    for node in drawing.nodes:
        cluster = node.cluster
        assert ((node.x - cluster.x) ** 2 + (node.y - cluster.y) ** 2) ** 0.5 <= cluster.radius


def test_at_150_links_many_names_fit_and_shortened_ones_keep_the_full_name():
    nodes, links = random_network(220, 150, seed=3)

    drawing = svg.knowledge_map(nodes, links)

    labelled = [n for n in drawing.nodes if n.label]
    # The rest are in the list under the map (and the marks' tooltips).
    assert len(labelled) >= len(drawing.nodes) // 3
    for node in labelled:
        if node.abbreviated:
            assert node.label.endswith("…") and node.community.name.startswith(node.label[:-1])
        else:
            assert node.label == node.community.name


def test_the_focused_community_is_highlighted_and_labelled_first():
    nodes, links = random_network(60, 80, seed=2)
    focus = nodes[-1]  # one of the smallest marks

    drawing = svg.knowledge_map(nodes, links, focus=focus)

    [focused] = [n for n in drawing.nodes if n.focused]
    assert focused.community is focus
    assert focused.label == focus.name or focused.abbreviated
    # Each of its links is a line of its own, even to another cluster.
    own = [item for item in links if focus in (item.source, item.target)]
    starts = {(e.x1, e.y1, e.x2, e.y2) for e in drawing.edges if not e.between}
    for item in own:
        ends = [n for n in drawing.nodes if n.community in (item.source, item.target)]
        assert (ends[0].x, ends[0].y, ends[1].x, ends[1].y) in starts or (
            ends[1].x,
            ends[1].y,
            ends[0].x,
            ends[0].y,
        ) in starts


def test_without_bundling_every_link_is_a_line():
    nodes, links = random_network(60, 80, seed=2)

    drawing = svg.knowledge_map(nodes, links, bundle=False)

    assert not drawing.bundled
    assert len(drawing.edges) == len(links)


def test_one_community_and_none():
    single = community(1, "Alone")
    assert svg.knowledge_map([], []).nodes == []

    drawing = svg.knowledge_map([single], [])

    [node] = drawing.nodes
    assert node.label == "Alone" and drawing.clusters[0].name == "Alone"


def test_the_layout_is_cached_by_the_graphs_shape(django_assert_num_queries, monkeypatch):
    nodes, links = two_groups()
    first = svg.knowledge_map(nodes, links)
    monkeypatch.setattr(svg, "cluster_layout", lambda graph: pytest.fail("laid out again"))

    assert geometry(svg.knowledge_map(nodes, links)) == geometry(first)

"""Part 2: kcdir's searches against the same searches in the Django admin's change
lists (as a superuser), and the ratio of their median times."""

from .pages import COMMUNITY_TERM, PEOPLE_TERM, Measured, Page, PageTimer
from .people import People
from .report import load_average

SEARCH_RATIO = 10.0


def compare_admin(timer: PageTimer, people: People, pages: dict[str, Measured]) -> None:
    report = timer.report
    comparisons = searches_to_compare(timer, people, pages)
    report.write(
        f"\n2. Searches: kcdir's pages against the Django admin's change lists "
        f"(superuser), p50 over {timer.requests} requests. Load average {load_average()}"
    )
    report.table_header(
        ["search", "app q", "app p50", "admin q", "admin p50", "ratio", "target", "met?"],
        [42, 5, 10, 7, 10, 8, 6, 7],
    )
    admins = {}
    for what, app, admin_url in comparisons:
        targeted = not what.endswith("(uncached)")
        if admin_url not in admins:
            admins[admin_url] = timer.measure(Page(f"admin: {what}", admin_url, people.admin))
        admin = admins[admin_url]
        ratio = admin.p50 / app.p50 if app.p50 else float("inf")
        met = ratio >= SEARCH_RATIO
        if targeted:
            report.target(f"search {what}: ≥{SEARCH_RATIO:.0f}× faster than the admin", met)
        report.table_row(
            [
                what,
                str(app.queries),
                f"{app.p50:.1f} ms",
                str(admin.queries),
                f"{admin.p50:.1f} ms",
                f"{ratio:.2f}×",
                f"≥{SEARCH_RATIO:.0f}×" if targeted else "",
                report.met(met) if targeted else "",
            ]
        )


def searches_to_compare(
    timer: PageTimer, people: People, pages: dict[str, Measured]
) -> list[tuple[str, Measured, str]]:
    """(what, kcdir's measurement, the admin's URL for the same search)."""
    slug, pk = people.community.slug, people.community.pk
    app_communities = pages[f"directory: search “{COMMUNITY_TERM}”"]
    app_people = next(m for what, m in pages.items() if what.startswith("people search"))
    app_roster = timer.measure(
        Page(
            f"manage: roster search “{PEOPLE_TERM}”",
            f"/c/{slug}/manage/?q={PEOPLE_TERM}",
            people.steward,
        )
    )
    comparisons = [
        (
            f"communities “{COMMUNITY_TERM}”",
            app_communities,
            f"/admin/communities/community/?q={COMMUNITY_TERM}",
        ),
        (f"members “{PEOPLE_TERM}”", app_people, f"/admin/members/member/?q={PEOPLE_TERM}"),
        (
            f"memberships “{PEOPLE_TERM}” in the big community",
            app_roster,
            f"/admin/communities/membership/?community__id__exact={pk}&q={PEOPLE_TERM}",
        ),
    ]
    uncached = pages.get(f"directory: search “{COMMUNITY_TERM}” (uncached)")
    if uncached:
        comparisons.append(
            (f"communities “{COMMUNITY_TERM}” (uncached)", uncached, comparisons[0][2])
        )
    return comparisons

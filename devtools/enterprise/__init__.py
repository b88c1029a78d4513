"""Enterprise-scale data: 100 departments, 100,000 people, 10,000 communities,
5,000 purposes and 1,000,000 memberships, each with the event that explains it.

Used by ``seed_demo --scale enterprise`` and by ``bench``. Rows are generated in
Python from a seeded random generator (the same data every run, dates relative to
today) and loaded in bulk: PostgreSQL ``COPY ... FROM STDIN`` fed by a streaming
generator (so Python generates while the server loads, on two cores), SQLite batched
``executemany``. Everything is written in one transaction; running it again once
the data is there does nothing.

The shape is meant to be realistic rather than uniform: community sizes are
heavy-tailed (most under 50 people, a few over 5,000), people mostly join
communities of their own department, every kind, status, stage, join policy, role
and membership state occurs, every knowledge community has a sponsor and stewards,
and one open knowledge community (``BENCH_COMMUNITY_SLUG``) has exactly 5,000 active
members for the benchmark.
"""

from .builder import EnterpriseBuilder
from .plans import BENCH_COMMUNITY_SLUG, Sizes, enterprise_present

__all__ = ["BENCH_COMMUNITY_SLUG", "EnterpriseBuilder", "Sizes", "enterprise_present"]

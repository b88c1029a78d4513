"""The load test's progress lines and its final report, from Locust's statistics."""

import time
from collections import Counter

import gevent
from locust.stats import StatsEntry


def progress(env, started: float, duration: int) -> None:
    while True:
        gevent.sleep(15)
        total = env.stats.total
        print(
            f"  {time.monotonic() - started:5.0f}/{duration} s: {total.num_requests} requests, "
            f"{total.num_failures} errors, {total.current_rps:.1f} req/s now",
            flush=True,
        )


def without_sign_in(env):
    """One entry for every request but the sign-ins (slow on purpose: PBKDF2)."""
    steady = StatsEntry(env.stats, "ALL but sign-in", "")
    for (name, _method), entry in env.stats.entries.items():
        if not name.startswith("sign in"):
            steady.extend(entry)
    return steady


def line(name, entry) -> str:
    pct = entry.get_response_time_percentile
    return (
        f"{name:<22} {entry.num_requests:>8} {entry.num_failures:>7} "
        f"{pct(0.5):>6.0f} {pct(0.95):>6.0f} {pct(0.99):>6.0f} {entry.max_response_time:>7.0f}"
    )


def report(env, elapsed: float, outcomes: Counter, args) -> int:
    """Prints the per-request table, the errors and the summary lines; 1 if any
    request failed."""
    total = env.stats.total
    print()
    print(f"{'request':<22} {'count':>8} {'errors':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}")
    for (name, _method), entry in sorted(env.stats.entries.items()):
        print(line(name, entry))
    print(line("ALL", total))
    steady = without_sign_in(env)
    print(line("ALL but sign-in", steady))
    print("(milliseconds; Locust rounds times over 100 ms to 2 significant digits)")
    if env.stats.errors:
        print("\nerrors:")
        for error in sorted(env.stats.errors.values(), key=lambda e: -e.occurrences)[:10]:
            print(f"  {error.occurrences:>5} × {error.method} {error.name}: {error.error}")
    print("\nmembership changes done:", dict(outcomes) or "none")
    summary(total, steady, elapsed, args)
    return 1 if total.num_failures else 0


def summary(total, steady, elapsed: float, args) -> None:
    rate = total.num_requests / elapsed if elapsed else 0.0
    print(
        f"\nSTEADY (all but sign-in) requests={steady.num_requests} "
        f"errors={steady.num_failures} p50={steady.get_response_time_percentile(0.5):.0f}ms "
        f"p95={steady.get_response_time_percentile(0.95):.0f}ms "
        f"p99={steady.get_response_time_percentile(0.99):.0f}ms"
    )
    error_pct = 100 * total.num_failures / total.num_requests if total.num_requests else 0.0
    print(
        f"\nSUMMARY users={args.users} duration={elapsed:.0f}s requests={total.num_requests} "
        f"errors={total.num_failures} ({error_pct:.2f}%) "
        f"p50={total.get_response_time_percentile(0.5):.0f}ms "
        f"p95={total.get_response_time_percentile(0.95):.0f}ms "
        f"p99={total.get_response_time_percentile(0.99):.0f}ms "
        f"rps={rate:.1f}"
    )

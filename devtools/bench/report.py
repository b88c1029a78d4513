"""The benchmark's printed report: lines, aligned tables and the targets met."""

import os

from django.core.management.base import OutputWrapper


class Report:
    def __init__(self, stdout):
        self.stdout = stdout if isinstance(stdout, OutputWrapper) else OutputWrapper(stdout)
        self.targets: list[tuple[str, bool]] = []
        self.widths: list[int] = []

    def write(self, line: str) -> None:
        self.stdout.write(line)

    def target(self, what: str, met: bool) -> None:
        self.targets.append((what, met))

    @staticmethod
    def met(ok: bool) -> str:
        return "met" if ok else "NOT MET"

    def table_header(self, columns: list[str], widths: list[int]) -> None:
        self.widths = widths
        self.table_row(columns)
        self.table_row(["-" * width for width in widths])

    def table_row(self, values: list[str]) -> None:
        cells = [
            value.ljust(width) if index == 0 else value.rjust(width)
            for index, (value, width) in enumerate(zip(values, self.widths, strict=True))
        ]
        self.write("  ".join(cells).rstrip())

    def summary(self) -> None:
        met = sum(1 for _what, ok in self.targets if ok)
        self.write(f"\nLoad average at the end: {load_average()}")
        self.write(f"targets met: {met}/{len(self.targets)}")


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def percent(ratio: float) -> str:
    return f"{ratio:.0%}" if ratio >= 0.1 else f"{ratio:.1%}"


def rate_text(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.1f}"

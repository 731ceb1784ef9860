"""Shared fixtures: one real local Spark session per test process."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("SPARKCOURSE_UI", "0")


@pytest.fixture(scope="session")
def spark():
    from sparkcourse import get_spark

    session = get_spark("tests")
    yield session
    session.stop()


def pytest_terminal_summary(terminalreporter, config):
    """Print the harness's per-lesson table (CPU, points, answers rejected and accepted) for the lessons checked.

    Each lesson's test records its row as a property, which pytest-xdist carries back from its workers."""
    tables = [value for key in ("passed", "failed") for report in terminalreporter.stats.get(key, [])
              if report.when == "call" for name, value in report.user_properties if name == "lesson_table"]
    if tables:
        terminalreporter.section("lesson integrity")
        rows = tables[0].splitlines()[:2] + [t.splitlines()[2] for t in tables]
        for line in rows:
            terminalreporter.write_line(line)

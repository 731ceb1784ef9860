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


def pytest_collection_modifyitems(session, config, items):
    """The integrity harness's lessons first: the longest tests, started first, keep both xdist workers busy
    to the end (the other tiers fill in after; make test keeps this order with --no-loadscope-reorder)."""
    items.sort(key=lambda item: item.get_closest_marker("lessons") is None)


# Files whose tests share what their module fixtures start (a server, an engine): kept on one worker together.
SHARED_UNITS = {"tests/test_sandbox.py": "tests/test_grading.py"}


def pytest_xdist_make_scheduler(config, log):
    """How make test (``-n 2 --dist loadscope``) hands out work: each lesson of the harness is a unit of its
    own, given to whichever worker is free; every other file is one unit, so that its module fixtures (a
    Docker engine, a cluster, a grading batch) start once, on one worker."""
    from xdist.scheduler import LoadScopeScheduling

    class LessonsApart(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            if nodeid.startswith("tests/test_lessons.py::"):
                return nodeid
            path = nodeid.split("::", 1)[0]
            return SHARED_UNITS.get(path, path)

    return LessonsApart(config, log)


def pytest_terminal_summary(terminalreporter, config):
    """Print the harness's per-lesson table (CPU, points, answers rejected and accepted) for the lessons checked,
    and the hostile class's grades (tests/test_grading.py).

    Each test records its row as a property, which pytest-xdist carries back from its workers."""
    def recorded(prop):
        return [value for key in ("passed", "failed") for report in terminalreporter.stats.get(key, [])
                if report.when == "call" for name, value in report.user_properties if name == prop]

    tables = recorded("lesson_table")
    if tables:
        terminalreporter.section("lesson integrity")
        rows = tables[0].splitlines()[:2] + [t.splitlines()[2] for t in tables]
        for line in rows:
            terminalreporter.write_line(line)
    exercise_tables = sorted(recorded("exercise_table"))
    if exercise_tables:
        terminalreporter.section("exercises: self-checks, and the wrong answers each rejects")
        for line in exercise_tables[0].splitlines()[:2] + [row for t in exercise_tables for row in t.splitlines()[2:]]:
            terminalreporter.write_line(line)
    outcomes = sorted(recorded("hostile_outcome"))
    if outcomes:
        terminalreporter.section("hostile class: each submission's grade")
        for line in ["| student | score | status | reason |", "|---|---:|---|---|", *outcomes]:
            terminalreporter.write_line(line)

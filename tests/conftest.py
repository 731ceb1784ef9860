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


@pytest.fixture(scope="session")
def lesson_tables(pytestconfig):
    """Where the harness's tests leave their tables, for the summary below (nothing is written to the repository)."""
    if not hasattr(pytestconfig, "_lesson_tables"):
        pytestconfig._lesson_tables = []
    return pytestconfig._lesson_tables


def pytest_terminal_summary(terminalreporter, config):
    """Print the harness's per-lesson table (CPU, points, answers rejected and accepted) for the lessons checked."""
    tables = getattr(config, "_lesson_tables", [])
    if tables:
        terminalreporter.section("lesson integrity")
        rows = tables[0].splitlines()[:2] + [t.splitlines()[2] for t in tables]
        for line in rows:
            terminalreporter.write_line(line)

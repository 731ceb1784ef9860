"""The integrity harness on every lesson, through the real grading path (see grader/harness/check.py)."""

import pytest

from grader.course import lessons
from grader.harness.check import check_lesson, table

pytestmark = pytest.mark.lessons


def by_halves():
    """Every lesson, in two xdist groups of alternate lessons: ``make test`` checks two lessons side by side,
    each group with its own server (the budgets are in CPU, so running side by side does not change them)."""
    return [pytest.param(lesson, marks=pytest.mark.xdist_group(f"lessons-{i % 2}")) for i, lesson in enumerate(lessons())]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One warm, sandboxed Spark Connect server for every lesson's graded runs, as a grading batch has."""
    from grader.sandbox.spark_server import WarmSpark

    warm = WarmSpark(tmp_path_factory.mktemp("harness-server")).start()
    yield warm
    warm.stop()


@pytest.mark.parametrize("lesson", by_halves())
def test_lesson_integrity(lesson, server, record_property):
    report = check_lesson(lesson, server)
    record_property("lesson_table", table([report]))  # for the summary (tests/conftest.py), from any xdist worker
    assert not report.problems, "\n".join(report.problems)

"""The integrity harness on every lesson, through the real grading path (see grader/harness/check.py)."""

import pytest

from grader.course import lessons
from grader.harness.check import check_lesson, exercise_table, table

pytestmark = pytest.mark.lessons


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One warm, sandboxed Spark Connect server for the lessons a worker checks in a row, as a grading batch has."""
    from grader.sandbox.spark_server import WarmSpark

    warm = WarmSpark(tmp_path_factory.mktemp("harness-server")).start()
    yield warm
    warm.stop()


@pytest.mark.parametrize("lesson", lessons())
def test_lesson_integrity(lesson, server, record_property):
    report = check_lesson(lesson, server)
    record_property("lesson_table", table([report]))  # for the summary (tests/conftest.py), from any xdist worker
    record_property("exercise_table", exercise_table([report]))
    assert not report.problems, "\n".join(report.problems)

"""The helper package against real Spark: session settings, data paths, and checks that speak plainly."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sparkcourse import (
    AnswerError,
    CourseError,
    check_columns,
    check_dataframe,
    check_pandas,
    check_pandas_columns,
    check_schema,
    check_type,
    check_value,
    data_path,
    read_grants,
)

ROOT = Path(__file__).resolve().parents[1]


class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class SneakyFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


@pytest.fixture(scope="module")
def bands(spark):
    return read_grants(spark).groupBy("contract_value_band").count()


def test_session_is_tuned_for_a_laptop(spark):
    assert spark.conf.get("spark.sql.shuffle.partitions") == "4"
    assert spark.conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
    assert spark.sparkContext.getConf().get("spark.ui.enabled") == "false"


def test_data_path_finds_bundled_files_and_explains_typos():
    assert Path(data_path("grants.csv")).is_file()
    with pytest.raises(CourseError, match=r"no data file 'grnts.csv'.*Available: .*grant_people.csv, grants.csv"):
        data_path("grnts.csv")


def test_data_folder_can_be_moved_and_a_wrong_one_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKCOURSE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(CourseError, match="does not exist: set SPARKCOURSE_DATA"):
        data_path("grants.csv")


def test_check_dataframe_accepts_the_same_rows_in_any_order(bands):
    check_dataframe(bands.orderBy("count"), bands, name="bands")
    check_dataframe(bands, bands.toPandas(), name="bands")  # a pandas reference works too


def test_check_dataframe_takes_a_pandas_reference_with_missing_integers_and_dates(spark):
    """pandas makes an integer column with a gap float64 (100013.0) and dates Timestamps: compared by value."""
    import datetime

    import pandas as pd

    answer = spark.createDataFrame([(1, 100013, datetime.date(2006, 5, 1)), (2, None, None)],
                                   "id INT, person_id INT, start DATE")
    reference = pd.DataFrame({"id": [1, 2], "person_id": [100013.0, float("nan")],
                              "start": pd.to_datetime(["2006-05-01", None])})
    check_dataframe(answer, reference, name="members")
    with pytest.raises(AnswerError, match="First difference"):
        check_dataframe(answer, reference.assign(person_id=[100014.0, float("nan")]), name="members")


@pytest.mark.parametrize(
    "make_answer, message",
    [
        (lambda b: None, "should be a Spark DataFrame, but it is None"),
        (lambda b: AlwaysEqual(), "should be a Spark DataFrame, but it is a test_sparkcourse.AlwaysEqual"),
        (lambda b: b.toPandas(), "Use Spark, not pandas"),
        (lambda b: b.withColumnRenamed("count", "n"), r"missing \['count'\]; unexpected \['n'\]"),
        (lambda b: b.select("count", "contract_value_band"), "same names, different order"),
        (lambda b: b.limit(3), "should have 10 rows, but it has 3"),
        (lambda b: b.union(b).union(b), "should have 10 rows, but it has 30"),
        (lambda b: b.withColumn("count", b["count"].cast("int")), "`count` should be bigint but is int"),
    ],
)
def test_check_dataframe_says_what_was_expected(bands, make_answer, message):
    with pytest.raises(AnswerError, match=message):
        check_dataframe(make_answer(bands), bands, name="bands")


def test_check_dataframe_names_the_first_differing_row_and_tolerance(bands):
    from pyspark.sql import functions as F

    off_by_one = bands.withColumn("count", F.col("count") + (F.col("contract_value_band") == "C").cast("long"))
    with pytest.raises(AnswerError) as error:
        check_dataframe(off_by_one, bands, name="bands")
    assert "First difference: expected Row(contract_value_band='C'" in str(error.value)
    assert "relative 1e-05" in str(error.value)


def test_check_schema_and_columns(bands):
    check_schema(bands, {"contract_value_band": "string", "count": "bigint"})
    check_columns(bands, ["contract_value_band", "count"])
    with pytest.raises(AnswerError, match="wrong types"):
        check_schema(bands, {"contract_value_band": "string", "count": "double"})


@pytest.mark.parametrize(
    "answer, expected, message",
    [
        (AlwaysEqual(), 3.0, "should be a number"),
        (SneakyFloat(4.0), 3.0, r"should be 3.0 .*but it is 4.0"),
        ("3", 3.0, "should be a number, but it is a str"),
        (True, 1, "should be a number, but it is a bool"),
        (3.1, 3.0, "within a relative"),
        (["a", "b"], ["a", "c"], r"should be \['a', 'c'\]"),
        ({"a": 1}, {"a": 2}, "should be"),
    ],
)
def test_check_value_rejects_wrong_values_and_types(answer, expected, message):
    with pytest.raises(AnswerError, match=message):
        check_value(answer, expected, name="x")


def test_check_value_accepts_numpy_and_close_floats():
    import numpy as np

    check_value(np.float64(0.1 + 0.2), 0.3)
    check_value(np.int64(3), 3)
    check_value(("a", 1), ["a", 1])


def test_pandas_checks():
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]})
    check_pandas(frame, frame.copy())
    check_pandas_columns(frame, ["a", "b"], rows=2)
    with pytest.raises(AnswerError, match="should have 3 rows"):
        check_pandas_columns(frame, ["a", "b"], rows=3)
    with pytest.raises(AnswerError, match="different values"):
        check_pandas(frame.assign(b=[0.5, 0.3]), frame)
    with pytest.raises(AnswerError, match="should be a pandas DataFrame"):
        check_pandas(AlwaysEqual(), frame)


def test_check_type():
    check_type(3, int)
    with pytest.raises(AnswerError, match="should be a dict, but it is a list"):
        check_type([], dict)


def _java_check(path, **env):
    """Run `make java`'s check with only `path` on PATH."""
    environment = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    environment.update(PATH=str(path), **env)
    return subprocess.run([sys.executable, str(ROOT / "sparkcourse" / "java.py")], env=environment,
                          capture_output=True, text=True)


def test_missing_java_gets_one_clear_sentence(tmp_path):
    result = _java_check(tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "no Java was found: install a JDK 17" in result.stderr


def test_old_java_gets_one_clear_sentence(tmp_path):
    # A real Java 11 is not installable here; this script answers `java -version` the way Java 11 does.
    fake = tmp_path / "java"
    fake.write_text('#!/bin/sh\necho \'openjdk version "11.0.22" 2024-01-16\' >&2\n')
    fake.chmod(0o755)
    result = _java_check(tmp_path)
    assert result.returncode == 1
    assert "the Java found is version 11: install a JDK 17" in result.stderr


def test_the_installed_java_is_accepted():
    result = subprocess.run([sys.executable, str(ROOT / "sparkcourse" / "java.py")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_check_dataframe_with_row_order_compares_sorted_answers_in_order(bands):
    check_dataframe(bands.orderBy("count", "contract_value_band"), bands.orderBy("count", "contract_value_band").toPandas(),
                    name="bands", check_row_order=True)
    with pytest.raises(AnswerError, match="rows differ \\(in order"):
        check_dataframe(bands.orderBy(bands["count"].desc(), "contract_value_band"),
                        bands.orderBy("count", "contract_value_band"), name="bands", check_row_order=True)


def test_the_side_by_side_footprint_counts_lines_and_peaks_on_both_sides(spark):
    import numpy as np

    from sparkcourse.footprint import jvm_peak, lines_of, python_peak

    def two_lines():
        # a comment counts: a reader reads it

        return 1

    assert lines_of(two_lines) == 3 and lines_of(two_lines, two_lines) == 6
    assert lines_of(len) is None, "a builtin has no source: None, not a guess"
    with python_peak() as small:
        np.zeros(10)
    with python_peak() as big:
        kept = np.ones(5_000_000)  # 40 MB, freed only after the block
    assert small.mb < 1 and 38 <= big.mb <= 45, (small.mb, big.mb)
    del kept
    with jvm_peak() as peak:
        spark.range(200_000).selectExpr("sum(id)").collect()
    assert peak.mb is not None and peak.mb > 100, "the local JVM's resident set is hundreds of MB"

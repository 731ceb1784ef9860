"""Answers as data and their fingerprints (sparkcourse/answers.py, fingerprints.py, exercises.py), with a real Spark.

What leaves a graded kernel must come back as the same values in the checker; hostile data must
be refused with a sentence, never executed; a fingerprint must accept the expected values within a
quarter of the tolerance on any machine, reject values a step away, and reveal none of them.
"""

import datetime
import json

import numpy as np
import pandas as pd
import pytest
from pyspark.ml import Pipeline
from pyspark.ml.feature import HashingTF, StringIndexer, VectorAssembler
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.sql import types as T

from sparkcourse import AnswerError
from sparkcourse.answers import AnswerDataError, RecordedParams, Unrecordable, decode, encode, plan_of
from sparkcourse.exercises import _state, check_answer
from sparkcourse.fingerprints import compare, describe_parts, fingerprint

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def frame(spark):
    schema = T.StructType([T.StructField("id", T.IntegerType()), T.StructField("s", T.StringType()),
                           T.StructField("x", T.DoubleType()), T.StructField("v", VectorUDT()),
                           T.StructField("d", T.DateType()), T.StructField("a", T.ArrayType(T.IntegerType())),
                           T.StructField("m", T.MapType(T.StringType(), T.DoubleType()))])
    return spark.createDataFrame([(1, "a", 0.5, Vectors.dense([1.0, 2.0]), datetime.date(2020, 1, 2), [1, 2], {"k": 1.5}),
                                  (2, None, 0.25, Vectors.sparse(2, [1], [3.0]), None, None, None)], schema)


def round_trip(spark, value):
    return decode(encode({"x": value}), spark)["x"]


def test_a_spark_dataframe_comes_back_with_its_schema_rows_and_plan(spark, frame):
    back = round_trip(spark, frame.filter("id > 0"))
    assert back.schema == frame.schema
    assert sorted(back.collect()) == sorted(frame.collect())
    assert "Filter" in plan_of(back) and plan_of(back) == plan_of(frame.filter("id > 0"))


@pytest.mark.parametrize("value", [None, True, 3, 2.5, float("nan"), "text", [1, "a"], (1, 2), {"a": [1.5]}, {1: "x"},
                                   {2, 3}, datetime.datetime(2020, 1, 1, 12), np.int64(4), np.arange(3.0),
                                   Vectors.dense([1.0, 2.0])])
def test_plain_values_come_back_as_they_were(spark, value):
    back = round_trip(spark, value)
    if isinstance(value, float) and value != value:
        assert back != back
    elif isinstance(value, np.ndarray):
        assert np.array_equal(back, value) and back.dtype == value.dtype
    else:
        assert back == value and type(back) is type(value if not isinstance(value, np.generic) else value.item())


def test_pandas_frames_and_series_keep_columns_dtypes_and_missing_values(spark):
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, None], "c": ["x", None]})
    back = round_trip(spark, df)
    pd.testing.assert_frame_equal(back, df)
    pd.testing.assert_series_equal(round_trip(spark, df.a), df.a)


def test_models_travel_as_their_class_params_facts_and_stages(spark, frame):
    model = Pipeline(stages=[StringIndexer(inputCol="s", outputCol="si", handleInvalid="keep"),
                             VectorAssembler(inputCols=["si"], outputCol="f")]).fit(frame)
    back = round_trip(spark, model)
    assert isinstance(back, RecordedParams) and back.kind == "PipelineModel"
    assert [s.kind for s in back.stages] == ["StringIndexerModel", "VectorAssembler"]
    assert back.stages[0].params["handleInvalid"] == "keep" and back.stages[0].facts["labels"] == ["a"]


def test_functions_and_other_objects_do_not_travel_and_say_so(spark):
    back = round_trip(spark, lambda x: x)
    assert isinstance(back, Unrecordable)
    with pytest.raises(AnswerError, match="cannot be recorded"):
        _ = back.anything


@pytest.mark.parametrize("data, message", [
    ('{"x": {"$": "spark_dataframe", "schema": {"type": "struct", "fields": [{"name": "e", "nullable": true, '
     '"metadata": {}, "type": {"type": "udt", "class": "x", "pyClass": "os.system", "sqlType": "string"}}]}, '
     '"rows": [], "plan": ""}}', "names a type the checker does not read"),
    ('{"x": {"$": "pickle", "v": "gASV"}}', "of a kind the checker does not read"),
    ('{"x": ' + '[' * 200 + ']' * 200 + '}', "nested too deeply|cannot be read"),
    ('not json', "not valid JSON"),
    ('{"x": {"$": "ndarray", "dtype": "object", "shape": [1], "v": [{"$": "unknown"}]}}', "does not read"),
])
def test_hostile_data_is_refused_with_a_sentence(spark, data, message):
    with pytest.raises(AnswerDataError, match=message):
        decode(data, spark)


def test_only_the_names_asked_for_are_read(spark):
    text = encode({"answer": 1, "grants_pd": "a forged reference"})
    assert decode(text, spark, names={"answer"}) == {"answer": 1}


def encoded(value):
    return json.loads(encode({"x": value}))["x"]


def test_a_fingerprint_accepts_values_within_a_quarter_step_and_rejects_a_step_away():
    rng = np.random.default_rng(0)
    values = list(rng.uniform(-5, 5, 500))
    step = 1e-4
    print_ = fingerprint(encoded(values), "salt", tolerance=step, ordered=True)
    assert compare(encoded(values), print_, "salt")[0]
    nudged = [v + rng.uniform(-step / 4.01, step / 4.01) for v in values]
    assert compare(encoded(nudged), print_, "salt")[0], "a correct answer within a quarter step must pass"
    for i in (0, 250, 499):
        wrong = list(values)
        wrong[i] += 1.01 * step
        assert not compare(encoded(wrong), print_, "salt")[0], "a value a whole step away must fail"


def test_values_on_a_grid_line_do_not_flip():
    step = 1e-3
    values = [k * step / 2 for k in range(200)]  # on the lines of both grids, the worst case
    print_ = fingerprint(encoded(values), "salt", tolerance=step, ordered=False)
    for epsilon in (1e-12, -1e-12, 1e-9, -1e-9):
        assert compare(encoded([v + epsilon for v in values]), print_, "salt")[0], epsilon


def test_a_fingerprint_says_which_part_differs_and_reveals_no_value(spark, frame):
    right = frame.select("id", "x")
    print_ = fingerprint(encoded(right), "lesson/ex1/answer", 1e-6)
    wrong = frame.selectExpr("id", "x * 2 AS x")
    ok, parts = compare(encoded(wrong), print_, "lesson/ex1/answer")
    assert not ok and describe_parts(parts) == "the row count is right; `id` matches; `x` differs"
    text = json.dumps(print_)
    assert "0.25" not in text and "0.5" not in text and '"a"' not in text


def test_a_model_fingerprint_is_its_stages_and_what_they_learnt_not_the_setup(spark):
    from pyspark.ml.feature import IDF, CountVectorizer, SQLTransformer, Tokenizer

    docs = spark.createDataFrame([(i, t) for i, t in enumerate(["b a", "a c", "c b a", "d a", "b d"])], "id int, t string")

    def fit(rows, min_df=1.0, statement="SELECT *, words AS terms FROM __THIS__", partitions=1):
        stages = [Tokenizer(inputCol="t", outputCol="words"), SQLTransformer(statement=statement),
                  CountVectorizer(inputCol="terms", outputCol="tf", minDF=min_df), IDF(inputCol="tf", outputCol="x")]
        return Pipeline(stages=stages).fit(rows.repartition(partitions))

    salt = "lesson/ex1/model"
    print_ = fingerprint(encoded(fit(docs)), salt, 1e-6)
    assert compare(encoded(fit(docs, statement="SELECT id, t, words, words AS terms FROM __THIS__", partitions=3)),
                   print_, salt)[0], "another SQL statement and another partitioning: the same model"
    ok, parts = compare(encoded(fit(docs.limit(4))), print_, salt)
    assert not ok and describe_parts(parts) == (
        "the number of stages is right; the stages' kinds match; what the stages learnt from the data differs")
    assert not compare(encoded(fit(docs, min_df=3.0)), print_, salt)[0], "a smaller vocabulary (terms of 3+ documents) must fail"
    hashed = Pipeline(stages=[Tokenizer(inputCol="t", outputCol="words"), SQLTransformer(statement="SELECT *, words AS terms FROM __THIS__"),
                              HashingTF(inputCol="terms", outputCol="tf"), IDF(inputCol="tf", outputCol="x")]).fit(docs)
    ok, parts = compare(encoded(hashed), print_, salt)
    assert not ok and "the stages' kinds differ" in describe_parts(parts)
    assert not compare(encoded(fit(docs).stages[2]), print_, salt)[0], "one stage is not the pipeline"
    text = json.dumps(print_)
    assert '"a"' not in text and "vocabulary" not in text and "numDocs" not in text


def test_check_answer_explains_shape_then_values(spark, frame, tmp_path, monkeypatch):
    lesson = "99_test"
    right = frame.select("id", "x")
    print_ = {"shape": {"kind": "a Spark DataFrame", "columns": [["id", "int"], ["x", "double"]], "streaming": False},
              "fingerprint": fingerprint(encoded(right), f"{lesson}/ex1/answer", 1e-6)}
    hidden = {"shape": {"kind": "a number"}, "hidden": True}
    (tmp_path / f"{lesson}.checks.json").write_text(json.dumps(
        {"exercises": {"ex1": {"answers": {"answer": print_}}, "ex2": {"answers": {"n": hidden}}}}))
    monkeypatch.setenv("SPARKCOURSE_CHECKS", str(tmp_path))
    monkeypatch.setitem(_state, "lesson", lesson)
    check_answer("ex1", answer=frame.select("id", "x"))
    with pytest.raises(AnswerError, match="should be a Spark DataFrame, but it is a pandas"):
        check_answer("ex1", answer=right.toPandas())
    with pytest.raises(AnswerError, match=r"should have the columns \['id', 'x'\]"):
        check_answer("ex1", answer=frame.select("x", "id"))
    with pytest.raises(AnswerError, match="`x` should be double but is float"):
        check_answer("ex1", answer=frame.selectExpr("id", "CAST(x AS float) AS x"))
    with pytest.raises(AnswerError, match="the row count is wrong"):
        check_answer("ex1", answer=right.limit(1))
    check_answer("ex2", n=12345)  # kept to hidden tests: any number has the right shape

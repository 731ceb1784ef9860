"""Exercise checks that tell the student what was expected and what their answer gave.

DataFrame comparisons are pyspark.testing's (assertSchemaEqual, assertDataFrameEqual); these
functions only check the answer's type first and turn the outcome into one plain sentence.
Values are normalised to built-in types before comparing, so an answer object whose ``==``
always says True cannot pass.
"""

import math
import numbers

from pyspark.errors import PySparkAssertionError
from pyspark.sql import DataFrame
from pyspark.sql.types import DateType, IntegralType
from pyspark.testing import assertDataFrameEqual, assertSchemaEqual

from .errors import AnswerError


def describe(value):
    """A short, student-readable description of any answer: its type and a glimpse of its value."""
    if value is None:
        return "None (did you run the cell with your answer, or forget to assign it?)"
    if isinstance(value, DataFrame):
        return f"a Spark DataFrame with columns {value.columns}"
    kind = type(value).__name__
    module = type(value).__module__.split(".")[0]
    if module not in ("builtins", "numpy"):
        kind = f"{module}.{kind}"
    text = repr(value)
    return f"a {kind}: {text[:80] + '...' if len(text) > 80 else text}"


def check_dataframe_type(answer, name="answer"):
    """The answer must be a Spark DataFrame (classic or Spark Connect)."""
    if not isinstance(answer, DataFrame):
        hint = " Use Spark, not pandas: build it from the Spark DataFrame." if type(answer).__name__ == "DataFrame" else ""
        raise AnswerError(f"`{name}` should be a Spark DataFrame, but it is {describe(answer)}.{hint}")


def check_columns(answer, columns, name="answer"):
    """A Spark DataFrame with exactly these columns, in this order."""
    check_dataframe_type(answer, name)
    actual, expected = list(answer.columns), list(columns)
    if actual == expected:
        return
    missing = [c for c in expected if c not in actual]
    extra = [c for c in actual if c not in expected]
    detail = "; ".join(
        part for part in (f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else "") if part
    ) or "same names, different order"
    raise AnswerError(f"`{name}` should have the columns {expected}, but it has {actual} ({detail}).")


def check_schema(answer, schema, name="answer"):
    """Columns and types, given as {column: Spark type name}, e.g. {"sponsor": "string", "n": "bigint"}."""
    check_columns(answer, list(schema), name)
    actual = {f.name: f.dataType.simpleString() for f in answer.schema.fields}
    wrong = [f"`{c}` should be {t} but is {actual[c]}" for c, t in schema.items() if actual[c] != t]
    if wrong:
        raise AnswerError(f"`{name}` has the right columns but the wrong types: {'; '.join(wrong)}.")


def check_dataframe(answer, expected, name="answer", check_row_order=False, rtol=1e-5, atol=1e-8):
    """Same columns, types and rows as the expected DataFrame; numbers within a relative tolerance.

    Row order is ignored unless ``check_row_order`` (use it when the exercise asks for a sort).
    ``expected`` may be a pandas DataFrame (a reference computed the pandas way): it is then
    converted with the answer's column types, so the comparison is about values only.
    """
    want = None
    if not isinstance(expected, DataFrame):
        check_columns(answer, list(expected.columns), name)
        want = len(expected)
        expected = _spark_from_pandas(expected, answer.schema, answer.sparkSession)
    check_columns(answer, expected.columns, name)
    try:
        assertSchemaEqual(answer.schema, expected.schema, ignoreNullable=True)
    except PySparkAssertionError:
        check_schema(answer, {f.name: f.dataType.simpleString() for f in expected.schema.fields}, name)
    want = expected.count() if want is None else want
    rows = answer.limit(want + 1).collect()  # one query, and never more than one row too many into memory
    if len(rows) != want:
        raise AnswerError(f"`{name}` should have {want} rows, but it has {answer.count() if rows else 0}.")
    try:
        assertDataFrameEqual(
            rows, expected, checkRowOrder=check_row_order, rtol=rtol, atol=atol,
            maxErrors=1, showOnlyDiff=True, includeDiffRows=True,
        )
    except PySparkAssertionError as error:
        pairs = getattr(error, "data", None) or [(None, None)]
        actual_row, expected_row = pairs[0]
        where = "in order" if check_row_order else "after sorting both"
        raise AnswerError(
            f"`{name}` has the right shape, but its rows differ ({where}; numbers may differ by a "
            f"relative {rtol:g}). First difference: expected {expected_row}, got {actual_row}."
        ) from None


def _spark_from_pandas(frame, schema, spark):
    """A pandas reference as a Spark DataFrame of the given schema, missing values as nulls.

    A pandas integer column with a missing value is float64 (100013.0): whole floats become ints where
    the schema's column is integral, so such a reference still compares by value.
    """
    types = [f.dataType for f in schema.fields]
    rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)

    def cell(value, kind):
        if value is None:
            return None
        if hasattr(value, "to_pydatetime"):  # a pandas Timestamp: a datetime, or a date for a date column
            value = value.to_pydatetime()
            return value.date() if isinstance(kind, DateType) else value
        plain = _plain(value)
        if plain is NotImplemented:  # dates, decimals...: Spark converts them itself
            return value
        return int(plain) if isinstance(kind, IntegralType) and isinstance(plain, float) and plain.is_integer() else plain

    return spark.createDataFrame([tuple(cell(v, t) for v, t in zip(row, types)) for row in rows], schema)


def check_pandas_columns(answer, columns, name="answer", rows=None):
    """A pandas DataFrame with exactly these columns (and, if given, this many rows)."""
    import pandas as pd

    if not isinstance(answer, pd.DataFrame):
        hint = " Collect your Spark result with .toPandas()." if isinstance(answer, DataFrame) else ""
        raise AnswerError(f"`{name}` should be a pandas DataFrame, but it is {describe(answer)}.{hint}")
    if list(answer.columns) != list(columns):
        raise AnswerError(f"`{name}` should have the columns {list(columns)}, but it has {list(answer.columns)}.")
    if rows is not None and len(answer) != rows:
        raise AnswerError(f"`{name}` should have {rows} rows, but it has {len(answer)}.")


def _plain(value):
    """Turn an answer into built-in types, or None when it is of no comparable kind."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)  # the characters, whatever a str subclass claims
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return NotImplemented


def _kind(plain):
    return "number" if isinstance(plain, (int, float)) and not isinstance(plain, bool) else type(plain).__name__


def _same(answer, expected, rel_tol, abs_tol):
    if _kind(answer) != _kind(expected):
        return False
    if isinstance(expected, float) or isinstance(answer, float):
        return math.isclose(answer, expected, rel_tol=rel_tol, abs_tol=abs_tol)
    if isinstance(expected, list):
        return len(answer) == len(expected) and all(_same(a, e, rel_tol, abs_tol) for a, e in zip(answer, expected))
    if isinstance(expected, dict):
        return answer.keys() == expected.keys() and all(_same(answer[k], expected[k], rel_tol, abs_tol) for k in expected)
    return answer == expected


def check_value(answer, expected, name="answer", rel_tol=1e-6, abs_tol=1e-9):
    """A number, string, boolean, or a list/tuple/dict of them; floats within a relative tolerance."""
    plain, want = _plain(answer), _plain(expected)
    if plain is NotImplemented or _kind(plain) != _kind(want):
        raise AnswerError(f"`{name}` should be a {_kind(want)}, but it is {describe(answer)}.")
    if not _same(plain, want, rel_tol, abs_tol):
        tolerance = f" (within a relative {rel_tol:g})" if isinstance(want, float) else ""
        raise AnswerError(f"`{name}` should be {want!r}{tolerance}, but it is {plain!r}.")


def check_type(answer, expected_type, name="answer"):
    """The answer is an instance of this class (e.g. a fitted PipelineModel)."""
    if not isinstance(answer, expected_type):
        raise AnswerError(f"`{name}` should be a {expected_type.__name__}, but it is {describe(answer)}.")


def check_pandas(answer, expected, name="answer", rtol=1e-5):
    """A pandas DataFrame equal to the expected one (index ignored, dtypes loosely compared)."""
    import pandas as pd

    if not isinstance(answer, pd.DataFrame):
        raise AnswerError(f"`{name}` should be a pandas DataFrame, but it is {describe(answer)}.")
    if list(answer.columns) != list(expected.columns):
        raise AnswerError(f"`{name}` should have the columns {list(expected.columns)}, but it has {list(answer.columns)}.")
    if len(answer) != len(expected):
        raise AnswerError(f"`{name}` should have {len(expected)} rows, but it has {len(answer)}.")
    try:
        pd.testing.assert_frame_equal(
            answer.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False, rtol=rtol
        )
    except AssertionError as error:
        raise AnswerError(f"`{name}` has the right shape but different values: {str(error).splitlines()[0]}") from None

"""Answers as plain data: what leaves the grading sandbox, what the clean checker reads back, what is fingerprinted.

When a notebook is graded, each exercise's test cell records its answers with ``check_answer``:
they leave the student's kernel as JSON (``encode``), never as code or pickles. The checker, a
process that never ran student code, turns that JSON back into values (``decode``): a Spark
DataFrame becomes a DataFrame of the checker's own Spark with the same schema and rows, a pandas
frame a pandas frame, a fitted model a ``RecordedParams`` (its class, params and a few facts).
Functions, classes and other objects cannot travel: a test records what they return instead.

``decode`` reads untrusted input. It builds values from an allow-list of kinds and types (no
imports named by the data, no pickles) and bounds sizes and depth; anything else raises
``AnswerDataError`` with a sentence.
"""

import base64
import datetime
import decimal
import json
import math

MIME = "application/vnd.sparkcourse.answers+json"
MAX_ROWS = 100_000  # rows of one DataFrame answer that travel; more and the answer says it was cut
MAX_BYTES = 32 * 2**20  # of one exercise's recorded answers, as JSON
MAX_DEPTH = 64
# The only user-defined Spark types an answer's schema may name (the checker must import their class).
ALLOWED_UDTS = {
    "pyspark.ml.linalg.VectorUDT", "pyspark.ml.linalg.MatrixUDT",
    "pyspark.mllib.linalg.VectorUDT", "pyspark.mllib.linalg.MatrixUDT",
}
# Facts of fitted models worth checking, read when the model has them (coefficients, vocabularies, ...).
MODEL_FACTS = (
    "coefficients", "intercept", "coefficientMatrix", "interceptVector", "numFeatures", "numClasses",
    "featureImportances", "labels", "labelsArray", "categorySizes", "clusterCenters", "treeWeights", "getNumTrees",
    "totalNumNodes", "depth", "numNodes", "surrogateDF", "mean", "std", "idf", "vocabulary", "docFreq", "numDocs",
    "rank", "avgMetrics", "validationMetrics", "stdMetrics", "factors", "linear", "weights", "layers",
    "splits", "splitsArray", "originalMin", "originalMax", "maxAbs", "explainedVariance", "pc", "k",
)


class AnswerDataError(ValueError):
    """Recorded answer data that cannot be read back (malformed, too big, or of a kind not allowed)."""


class Unrecordable:
    """What the checker holds for an answer that could not travel (a function, a class, an open file...)."""

    def __init__(self, name, kind):
        self.name, self.kind = name, kind

    def __repr__(self):
        return f"<{self.kind} {self.name}: not recordable>"

    def __getattr__(self, attribute):
        from .errors import AnswerError

        raise AnswerError(f"`{self.name}` is a {self.kind}, which cannot be recorded for grading: the test records "
                          "what it computes instead.")


class RecordedParams:
    """A Spark ML estimator, model, transformer or evaluator, as data: its class, its params, its facts."""

    def __init__(self, class_name, uid, params, facts, stages):
        self.class_name, self.uid, self.params, self.facts, self.stages = class_name, uid, params, facts, stages

    @property
    def kind(self):
        """The class's own name, e.g. ``"LogisticRegressionModel"``."""
        return self.class_name.rsplit(".", 1)[-1]

    def __repr__(self):
        return f"<recorded {self.kind} {self.uid}>"


# --- encoding (in the student's kernel) -----------------------------------------------------------------


def encode(answers):
    """{name: value} as a JSON string of plain data. Values that cannot travel are recorded as such."""
    return encode_data({name: _encode(value, 0) for name, value in answers.items()})


def encode_data(encoded):
    """Answers already made plain data ({name: data}) as the JSON string a test records (bounded in size)."""
    text = json.dumps(encoded, allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_BYTES:
        sizes = {name: len(json.dumps(value)) for name, value in encoded.items()}
        raise AnswerDataError(f"the answers are {len(text) / 2**20:.0f} MB as data, over the "
                              f"{MAX_BYTES // 2**20} MB a test may record ({sizes})")
    return text


def _tag(tag, **fields):
    return {"$": tag, **fields}


def _encode(value, depth):
    """One value as plain JSON data (dicts with a "$" key say what they stand for)."""
    if depth > MAX_DEPTH:
        raise AnswerDataError("the answer is nested too deeply to record")
    if value is None or isinstance(value, (bool, str)):
        return str.__str__(value) if isinstance(value, str) else bool(value) if isinstance(value, bool) else None
    module = type(value).__module__ or ""
    if module.startswith("numpy"):
        return _encode_numpy(value, depth)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        value = float(value)
        return value if math.isfinite(value) else _tag("float", v=repr(value))
    if isinstance(value, decimal.Decimal):
        return _tag("decimal", v=str(value))
    if isinstance(value, datetime.datetime):
        return _tag("datetime", v=value.isoformat())
    if isinstance(value, datetime.date):
        return _tag("date", v=value.isoformat())
    if isinstance(value, (bytes, bytearray)):
        return _tag("bytes", v=base64.b64encode(bytes(value)).decode())
    if _is_params(value):  # Spark ML stages, a notebook's own Transformer included
        return _encode_params(value, depth)
    if module.startswith("pyspark"):
        return _encode_spark(value, depth)
    if module.startswith("pandas"):
        return _encode_pandas(value, depth)
    if type(value).__name__ == "Figure" and module.startswith("plotly"):
        return _tag("plotly_figure", v=json.loads(value.to_json()))
    if isinstance(value, tuple):
        return _tag("tuple", v=[_encode(v, depth + 1) for v in value])
    if isinstance(value, (list, range)):
        return [_encode(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return _tag("set", v=sorted((_encode(v, depth + 1) for v in value), key=_sort_key))
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return _tag("dict", v={str.__str__(k): _encode(v, depth + 1) for k, v in value.items()})
        return _tag("pairs", v=[[_encode(k, depth + 1), _encode(v, depth + 1)] for k, v in value.items()])
    kind = "function" if callable(value) and not isinstance(value, type) else "class" if isinstance(value, type) \
        else f"{module.split('.')[0] or 'Python'} {type(value).__name__}"
    return _tag("unrecordable", kind=kind)


def _is_params(value):
    try:
        from pyspark.ml.param import Params
    except ImportError:
        return False
    return isinstance(value, Params)


def _sort_key(encoded):
    return json.dumps(encoded, sort_keys=True)


def _encode_numpy(value, depth):
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return _tag("ndarray", dtype="object", shape=list(value.shape),
                        v=[_encode(v, depth + 1) for v in value.ravel().tolist()])
        return _tag("ndarray", dtype=str(value.dtype), shape=list(value.shape),
                    v=[_encode(v, depth + 1) for v in value.ravel().tolist()])
    if isinstance(value, np.generic):
        return _encode(value.item(), depth)
    return _tag("unrecordable", kind=f"numpy {type(value).__name__}")


def _encode_spark(value, depth):
    from pyspark.sql import DataFrame, Row

    if isinstance(value, DataFrame):
        return _encode_spark_dataframe(value)
    if isinstance(value, Row):
        fields = list(value.__fields__) if hasattr(value, "__fields__") else None
        return _tag("row", fields=fields, v=[_encode(v, depth + 1) for v in tuple(value)])
    kind = type(value).__name__
    if kind in ("DenseVector", "SparseVector", "DenseMatrix", "SparseMatrix"):
        return _encode_linalg(value)
    from pyspark.ml.param import Param, Params

    if isinstance(value, Param):
        return _tag("param", parent=str(value.parent), name=value.name)
    if isinstance(value, Params):
        return _encode_params(value, depth)
    return _tag("unrecordable", kind=f"pyspark {kind}")


def _encode_linalg(value):
    kind = type(value).__name__
    if kind == "DenseVector":
        return _tag("vector", size=len(value), v=[float(x) for x in value.toArray()])
    if kind == "SparseVector":
        return _tag("sparse_vector", size=int(value.size), indices=[int(i) for i in value.indices],
                    v=[float(x) for x in value.values])
    array = value.toArray()
    return _tag("matrix", rows=int(array.shape[0]), cols=int(array.shape[1]), v=[float(x) for x in array.ravel()])


def _encode_spark_dataframe(df):
    """Schema, plan and (for a batch DataFrame) up to MAX_ROWS rows; one bounded collect."""
    from .plans import plan_text

    try:
        plan = plan_text(df, "extended")
    except Exception as error:  # noqa: BLE001 - an answer whose plan cannot be built still has a schema
        plan = f"(no plan: {type(error).__name__})"
    record = _tag("spark_dataframe", schema=json.loads(df.schema.json()), plan=plan, streaming=bool(df.isStreaming))
    if not df.isStreaming:
        rows = df.limit(MAX_ROWS + 1).collect()
        record["truncated"] = len(rows) > MAX_ROWS
        record["rows"] = [[_encode_cell(v) for v in tuple(row)] for row in rows[:MAX_ROWS]]
    return record


_PLAIN = (int, str, bool, type(None))  # exact types only: subclasses (numpy's, a notebook's own) take _encode


def _encode_cell(value):
    """One value of a DataFrame row (nested rows, arrays and maps included)."""
    kind = type(value)
    if kind in _PLAIN or (kind is float and math.isfinite(value)):
        return value  # what _encode gives these, without its tests (a collect may hold millions of them)
    return _encode(value, 1)


def _encode_pandas(value, depth):
    import pandas as pd

    def column(series):
        return [None if _is_missing(v) else _encode(v, depth + 2) for v in series.tolist()]

    if isinstance(value, pd.DataFrame):
        if len(value) > MAX_ROWS:
            raise AnswerDataError(f"a pandas DataFrame of {len(value)} rows is more than the {MAX_ROWS} a test records")
        return _tag("pandas_dataframe", columns=[_encode(c, depth + 1) for c in value.columns],
                    dtypes=[str(t) for t in value.dtypes], index=column(value.index.to_series()),
                    index_name=_encode(value.index.name, depth + 1),
                    v=[column(value.iloc[:, i]) for i in range(value.shape[1])])
    if isinstance(value, pd.Series):
        return _tag("pandas_series", name=_encode(value.name, depth + 1), dtype=str(value.dtype),
                    index=column(value.index.to_series()), v=column(value))
    if isinstance(value, pd.Timestamp):
        return _tag("datetime", v=value.isoformat())
    return _tag("unrecordable", kind=f"pandas {type(value).__name__}")


def _is_missing(value):
    try:
        import pandas as pd

        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _encode_params(value, depth):
    params = {}
    for param in value.params:
        if value.isDefined(param):
            try:
                params[param.name] = _encode(value.getOrDefault(param), depth + 1)
            except Exception:  # noqa: BLE001 - a param that cannot be read is left out
                continue
    facts = {}
    for name in MODEL_FACTS:
        try:
            fact = getattr(value, name)
            fact = fact() if callable(fact) and name in ("getNumTrees", "rank", "k") else fact
            if callable(fact):
                continue
            facts[name] = _encode(fact, depth + 1)
        except Exception:  # noqa: BLE001 - not this model's, or not available here
            continue
    stages = None
    for attribute in ("stages", "getStages"):
        try:
            found = getattr(value, attribute)
            found = found() if callable(found) else found
            stages = [_encode(s, depth + 1) for s in found]
            break
        except Exception:  # noqa: BLE001
            continue
    for attribute in ("bestModel", "getEstimator", "getEvaluator"):
        try:
            found = getattr(value, attribute)
            facts[attribute.removeprefix("get").lower() if attribute != "bestModel" else "bestModel"] = _encode(
                found() if callable(found) else found, depth + 1)
        except Exception:  # noqa: BLE001
            continue
    cls = type(value)
    return _tag("params", cls=f"{cls.__module__}.{cls.__qualname__}", uid=str(value.uid), params=params,
                facts=facts, stages=stages)


def as_checked(live, namespace, spark=None):
    """The answers as the grading checker holds them, so that a hidden test reads them alike everywhere.

    ``live``: {name: value} of answers the test cell passed to ``check_answer`` under those names.
    In the checker (a clean process that never ran student code) each recorded answer is bound under
    its name in the test's ``namespace``: those are returned, never ``live``'s values (there they are
    the solution's). Anywhere else (the instructor's own run of the source notebook, the release) the
    live values go through ``encode`` and ``decode`` as recording would: a model becomes a
    ``RecordedParams``, a DataFrame its rows. Whether this is the checker is the checker's own state,
    not a guess from the values (a live global of the same name is never mistaken for a recorded one).
    """
    from .errors import CourseError
    from .exercises import _state

    if _state["mode"] == "checker":
        missing = [n for n in live if n not in namespace]
        if missing:
            raise CourseError(f"{', '.join(missing)}: not answers this test cell recorded (check_answer names them)")
        return {n: namespace[n] for n in live}
    return decode(encode(live), spark)


# --- decoding (in the checker, from untrusted data) ---------------------------------------------------------


def decode(text, spark=None, names=None):
    """{name: value} from ``encode``'s JSON. Spark DataFrames are rebuilt with ``spark`` (the checker's own).

    ``names``: the only names to read (the test's own); others are ignored.
    """
    try:
        data = json.loads(text) if isinstance(text, (str, bytes)) else text
    except (ValueError, RecursionError) as error:
        raise AnswerDataError(f"the recorded answers are not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise AnswerDataError("the recorded answers are not a mapping of names to values")
    out = {}
    for name, value in data.items():
        if names is not None and name not in names:
            continue
        try:
            out[name] = _decode(value, spark, name, 0)
        except AnswerDataError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError, OverflowError) as error:
            raise AnswerDataError(f"the recorded `{name}` cannot be read ({type(error).__name__}: {error})") from None
    return out


def _decode(value, spark, name, depth):
    if depth > MAX_DEPTH:
        raise AnswerDataError(f"the recorded `{name}` is nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, spark, name, depth + 1) for v in value]
    if not isinstance(value, dict) or not isinstance(value.get("$"), str):
        raise AnswerDataError(f"the recorded `{name}` holds something that is not answer data")
    kind = value["$"]
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise AnswerDataError(f"the recorded `{name}` is of a kind the checker does not read ({kind[:40]!r})")
    return decoder(value, spark, name, depth)


def _float(value, spark, name, depth):
    text = value["v"]
    if text not in ("nan", "inf", "-inf"):
        raise AnswerDataError(f"the recorded `{name}` has a bad float")
    return float(text)


def _ndarray(value, spark, name, depth):
    import numpy as np

    dtype = value["dtype"]
    if dtype == "object":
        items = [_decode(v, spark, name, depth + 1) for v in value["v"]]
        array = np.empty(len(items), dtype=object)
        array[:] = items
    else:
        if not (dtype[:-1] in ("bool", "int", "uint", "float") or dtype in ("bool", "int8", "uint8")) \
                and np.dtype(dtype).kind not in "biuf":
            raise AnswerDataError(f"the recorded `{name}` has an array of type {dtype!r}")
        array = np.array(value["v"], dtype=np.dtype(dtype))
    shape = [int(n) for n in value["shape"]]
    return array.reshape(shape)


def _linalg(value, spark, name, depth):
    from pyspark.ml.linalg import DenseMatrix, DenseVector, SparseVector

    kind = value["$"]
    if kind == "vector":
        return DenseVector([float(x) for x in value["v"]])
    if kind == "sparse_vector":
        return SparseVector(int(value["size"]), [int(i) for i in value["indices"]], [float(x) for x in value["v"]])
    rows, cols = int(value["rows"]), int(value["cols"])
    import numpy as np

    return DenseMatrix(rows, cols, np.array(value["v"], dtype=float).reshape(rows, cols).ravel(order="F").tolist())


def _row(value, spark, name, depth):
    from pyspark.sql import Row

    values = [_decode(v, spark, name, depth + 1) for v in value["v"]]
    fields = value.get("fields")
    if fields is None:
        return Row(*values)
    return Row(**dict(zip([str(f) for f in fields], values)))


def _check_schema_types(schema, name, depth=0):
    """Walk a schema's JSON: every user-defined type must be one the checker allows."""
    if depth > MAX_DEPTH:
        raise AnswerDataError(f"the schema of `{name}` is nested too deeply")
    if isinstance(schema, dict):
        if schema.get("type") == "udt":
            if schema.get("pyClass") not in ALLOWED_UDTS:
                raise AnswerDataError(f"the schema of `{name}` names a type the checker does not read")
        for item in schema.values():
            _check_schema_types(item, name, depth + 1)
    elif isinstance(schema, list):
        for item in schema:
            _check_schema_types(item, name, depth + 1)


def _spark_dataframe(value, spark, name, depth):
    from pyspark.sql.types import StructType

    _check_schema_types(value["schema"], name)
    schema = StructType.fromJson(value["schema"])
    if value.get("streaming") or value.get("rows") is None:
        frame = RecordedStream(schema, value.get("plan", ""))
        return frame
    rows = value["rows"]
    if len(rows) > MAX_ROWS:
        raise AnswerDataError(f"the recorded `{name}` has more rows than an answer may carry")
    data = [tuple(_from_cell(cell, field.dataType, spark, name, depth) for cell, field in zip(row, schema.fields))
            for row in rows]
    if spark is None:
        raise AnswerDataError("a Spark DataFrame answer needs the checker's Spark session")
    frame = spark.createDataFrame(data, schema, verifySchema=True)
    frame._sparkcourse_plan = str(value.get("plan", ""))
    frame._sparkcourse_truncated = bool(value.get("truncated"))
    return frame


def _from_cell(cell, data_type, spark, name, depth):
    """A DataFrame cell back to what createDataFrame expects for its Spark type."""
    from pyspark.sql import types as T

    if cell is None:
        return None
    decoded = _decode(cell, spark, name, depth + 1)
    if isinstance(data_type, T.StructType):
        values = tuple(decoded) if not hasattr(decoded, "__fields__") else tuple(decoded)
        return tuple(_from_plain(v, f.dataType) for v, f in zip(values, data_type.fields))
    return _from_plain(decoded, data_type)


def _from_plain(value, data_type):
    from pyspark.sql import types as T

    if value is None:
        return None
    if isinstance(data_type, T.ArrayType):
        return [_from_plain(v, data_type.elementType) for v in value]
    if isinstance(data_type, T.MapType):
        pairs = value.items() if isinstance(value, dict) else value
        return {_from_plain(k, data_type.keyType): _from_plain(v, data_type.valueType) for k, v in pairs}
    if isinstance(data_type, T.StructType):
        return tuple(_from_plain(v, f.dataType) for v, f in zip(tuple(value), data_type.fields))
    if isinstance(data_type, (T.FloatType, T.DoubleType)) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _pandas_dataframe(value, spark, name, depth):
    import pandas as pd

    columns = [_decode(c, spark, name, depth + 1) for c in value["columns"]]
    data = {i: [_decode(v, spark, name, depth + 2) for v in col] for i, col in enumerate(value["v"])}
    index = [_decode(v, spark, name, depth + 2) for v in value["index"]]
    frame = pd.DataFrame(data, index=pd.Index(index, name=_decode(value.get("index_name"), spark, name, depth + 1)))
    frame.columns = columns
    for column, dtype in zip(range(len(columns)), value["dtypes"]):
        frame.isetitem(column, _as_dtype(frame.iloc[:, column], dtype))
    return frame


def _as_dtype(series, dtype):
    """A column back to its recorded dtype when that is a plain one (numbers, booleans, strings, dates)."""
    import pandas as pd

    try:
        if dtype.startswith("datetime64"):
            return pd.to_datetime(series)
        if dtype in ("object", "str", "string") or dtype.startswith("category"):
            return series.astype(object) if dtype != "string" else series.astype("string")
        import numpy as np

        if np.dtype(dtype).kind in "biuf":
            return series.astype(dtype)
    except (TypeError, ValueError):
        pass
    return series


def _pandas_series(value, spark, name, depth):
    import pandas as pd

    values = [_decode(v, spark, name, depth + 2) for v in value["v"]]
    index = [_decode(v, spark, name, depth + 2) for v in value["index"]]
    series = pd.Series(values, index=index, name=_decode(value.get("name"), spark, name, depth + 1))
    return _as_dtype(series, value["dtype"])


def _params(value, spark, name, depth):
    params = {str(k): _decode(v, spark, name, depth + 1) for k, v in value["params"].items()}
    facts = {str(k): _decode(v, spark, name, depth + 1) for k, v in value["facts"].items()}
    stages = None if value.get("stages") is None else [_decode(s, spark, name, depth + 1) for s in value["stages"]]
    return RecordedParams(str(value["cls"]), str(value["uid"]), params, facts, stages)


class RecordedParam:
    """A Spark ML Param as data (a key of a recorded param map)."""

    def __init__(self, parent, name):
        self.parent, self.name = parent, name

    def __eq__(self, other):
        return isinstance(other, RecordedParam) and (self.parent, self.name) == (other.parent, other.name)

    def __hash__(self):
        return hash((self.parent, self.name))

    def __repr__(self):
        return f"Param({self.name})"


class RecordedStream:
    """A streaming DataFrame as data: its schema and plan (its rows are what a test ran it to)."""

    def __init__(self, schema, plan):
        self.schema, self._sparkcourse_plan, self.isStreaming = schema, plan, True

    @property
    def columns(self):
        return [f.name for f in self.schema.fields]


_DECODERS = {
    "float": _float,
    "decimal": lambda v, s, n, d: decimal.Decimal(str(v["v"])),
    "datetime": lambda v, s, n, d: datetime.datetime.fromisoformat(str(v["v"])),
    "date": lambda v, s, n, d: datetime.date.fromisoformat(str(v["v"])),
    "bytes": lambda v, s, n, d: base64.b64decode(str(v["v"]), validate=True),
    "tuple": lambda v, s, n, d: tuple(_decode(x, s, n, d + 1) for x in v["v"]),
    "set": lambda v, s, n, d: {_hashable(_decode(x, s, n, d + 1)) for x in v["v"]},
    "dict": lambda v, s, n, d: {str(k): _decode(x, s, n, d + 1) for k, x in v["v"].items()},
    "pairs": lambda v, s, n, d: {_hashable(_decode(k, s, n, d + 1)): _decode(x, s, n, d + 1) for k, x in v["v"]},
    "ndarray": _ndarray,
    "vector": _linalg, "sparse_vector": _linalg, "matrix": _linalg,
    "row": _row,
    "param": lambda v, s, n, d: RecordedParam(str(v["parent"]), str(v["name"])),
    "params": _params,
    "spark_dataframe": _spark_dataframe,
    "pandas_dataframe": _pandas_dataframe,
    "pandas_series": _pandas_series,
    "plotly_figure": lambda v, s, n, d: _plain_json(v["v"], n),
    "unrecordable": lambda v, s, n, d: Unrecordable(n, str(v.get("kind", "object"))[:80]),
}


def _hashable(value):
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def _plain_json(value, name, depth=0):
    """JSON as it is (a plotly figure's dict): checked for depth only."""
    if depth > MAX_DEPTH:
        raise AnswerDataError(f"the recorded `{name}` is nested too deeply")
    if isinstance(value, dict):
        return {str(k): _plain_json(v, name, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(v, name, depth + 1) for v in value]
    return value


def plan_of(df):
    """The extended plan of a DataFrame: computed for a live one, as recorded for one the checker rebuilt."""
    # Not getattr: a Spark Connect DataFrame answers any attribute name with a Column of that name.
    recorded = vars(df).get("_sparkcourse_plan") if hasattr(df, "__dict__") else None
    if recorded is not None:
        return recorded
    from .plans import plan_text

    return plan_text(df, "extended")

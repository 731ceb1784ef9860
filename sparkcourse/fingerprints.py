"""Fingerprints of expected answers: enough to say which part of an answer is wrong, nothing to rebuild it from.

``make release`` runs each solution and fingerprints every recorded answer (``fingerprint``); the
student's ``check_answer`` fingerprints theirs the same way and compares (``compare``). A
fingerprint holds the answer's public shape (kind, columns, types: what the prompt says anyway),
and salted, deliberately slow hashes of normalised values: the row count, each column, the set of
rows (or their sequence, when the exercise asks for an order). A fitted model is a table of its stages:
their kinds, and what each learnt that is the same on every Spark setup (counts, sets of terms or labels).

Numbers are compared on a grid of the exercise's tolerance. A value close to a grid line could
round either way on another machine, so every float has two grids, half a step apart, and the
release picks for each value the grid on which it lies far from a line (one bit per value, stored).
A correct answer within a quarter step of the solution's value always lands in the same cell, on
any machine or Spark; one more than a step away never does.
"""

import base64
import hashlib
import json
import math

ITERATIONS = 20_000  # pbkdf2 rounds per hash: a row count or a small number cannot be looked up by brute force cheaply
VERSION = 1


class FingerprintError(ValueError):
    """An answer that cannot be fingerprinted (of a kind with no self-check)."""


# --- the answer's public shape ----------------------------------------------------------------------


def _spark_types(schema):
    from pyspark.sql.types import StructType

    return [(f.name, f.dataType.simpleString()) for f in StructType.fromJson(schema).fields]


def _dtype_kind(dtype):
    """pandas dtypes by kind: toPandas may give int32 where pandas gives int64; both are integers."""
    if dtype.startswith(("int", "uint", "Int", "UInt")):
        return "integer"
    if dtype.startswith(("float", "Float")):
        return "float"
    if dtype in ("bool", "boolean"):
        return "boolean"
    if dtype.startswith("datetime"):
        return "datetime"
    return "text or objects"


def shape_of(data):
    """What an encoded answer is, as the prompt would say it: kind, and columns with types for tables."""
    if isinstance(data, dict) and "$" in data:
        kind = data["$"]
        if kind == "spark_dataframe":
            return {"kind": "a Spark DataFrame", "columns": _spark_types(data["schema"]),
                    "streaming": bool(data.get("streaming"))}
        if kind == "pandas_dataframe":
            return {"kind": "a pandas DataFrame",
                    "columns": [(str(_scalar(c)), _dtype_kind(t)) for c, t in zip(data["columns"], data["dtypes"])]}
        if kind == "pandas_series":
            return {"kind": "a pandas Series", "dtype": _dtype_kind(data["dtype"])}
        if kind == "dict":
            return {"kind": "a dict", "keys": sorted(data["v"])}
        if kind in ("tuple", "ndarray", "set"):
            return {"kind": {"tuple": "a tuple", "ndarray": "a numpy array", "set": "a set"}[kind]}
        if kind in ("vector", "sparse_vector"):
            return {"kind": "a Spark ML vector"}
        if kind == "params":
            return {"kind": f"a {data['cls'].rsplit('.', 1)[-1]}"}
        if kind == "float":
            return {"kind": "a number"}
        if kind == "unrecordable":
            return {"kind": f"a {data.get('kind', 'object')}"}
        return {"kind": f"a {kind.replace('_', ' ')}"}
    if isinstance(data, bool):
        return {"kind": "a boolean"}
    if isinstance(data, (int, float)):
        return {"kind": "a number"}
    if isinstance(data, str):
        return {"kind": "a string"}
    if isinstance(data, list):
        return {"kind": "a list"}
    return {"kind": "None"}


def _is_model(data):
    return isinstance(data, dict) and data.get("$") == "params"


def _scalar(value):
    return value["v"] if isinstance(value, dict) and "v" in value and not isinstance(value["v"], (list, dict)) else value


# --- a fitted model, seen without what depends on the Spark setup ----------------------------------------

MODEL_COLUMNS = ("the stages' kinds", "what the stages learnt from the data")
SETUP_FREE_COUNTS = ("numDocs", "numFeatures", "numClasses", "rank", "k")  # of answers.MODEL_FACTS
SETUP_FREE_SETS = ("vocabulary", "labels")  # in an order that may depend on the setup: compared as sets


def _stages(data):
    """A model's stages in order (a pipeline's own, or the model alone), each as its encoded params."""
    return [s for s in data["stages"] if isinstance(s, dict) and s.get("$") == "params"] if data.get("stages") else [data]


def _learnt(stage):
    """The facts a stage learnt that are the same on every Spark setup: counts, and sets of terms or labels.

    Numbers with decimals (coefficients, weights) and vectors are left out: their last digits, and the
    order of terms of equal counts, depend on the Spark setup; the hidden tests check those. Params are
    left out too: the prompt leaves some of them free (an SQL statement, a column name of one's own).
    """
    learnt = {}
    for name, fact in sorted(stage.get("facts", {}).items()):
        if name in SETUP_FREE_COUNTS and isinstance(fact, int) and not isinstance(fact, bool):
            learnt[name] = fact
        elif name in SETUP_FREE_SETS and isinstance(fact, list) and all(isinstance(v, str) for v in fact):
            learnt[name] = sorted(fact)
        elif isinstance(fact, dict) and fact.get("$") == "params":
            learnt[name] = [[s["cls"].rsplit(".", 1)[-1], _learnt(s)] for s in _stages(fact)]
    return {"$": "dict", "v": {k: json.dumps(v, sort_keys=True) for k, v in learnt.items()}}


# --- tables of leaves -------------------------------------------------------------------------------------


def _table(data):
    """(column names, rows of cells) for any recorded answer; a scalar is a table of one cell."""
    if isinstance(data, dict) and "$" in data:
        kind = data["$"]
        if kind == "spark_dataframe":
            if data.get("rows") is None:
                raise FingerprintError("a streaming DataFrame has no rows to compare: record what you ran it to")
            return [name for name, _ in _spark_types(data["schema"])], data["rows"]
        if kind == "pandas_dataframe":
            names = [str(_scalar(c)) for c in data["columns"]]
            return names, [list(row) for row in zip(*data["v"])] if data["v"] else []
        if kind == "pandas_series":
            return ["index", "value"], [list(pair) for pair in zip(data["index"], data["v"])]
        if kind in ("tuple", "set"):
            return ["item"], [[v] for v in data["v"]]
        if kind == "ndarray":
            return ["item"], [[v] for v in data["v"]]
        if kind == "params":
            return list(MODEL_COLUMNS), [[stage["cls"].rsplit(".", 1)[-1], _learnt(stage)] for stage in _stages(data)]
        if kind == "unrecordable":
            raise FingerprintError(f"{shape_of(data)['kind']} has no values to self-check: record its facts instead")
    if isinstance(data, list):
        return ["item"], [[v] for v in data]
    return ["value"], [[data]]


def _leaves(cell, path=()):
    """Every scalar inside a cell (vectors, arrays, rows and maps opened up), with where it sits."""
    if isinstance(cell, dict) and "$" in cell:
        kind = cell["$"]
        if kind in ("vector", "tuple", "row", "set"):
            for i, v in enumerate(cell["v"]):
                yield from _leaves(v, path + (i,))
            return
        if kind == "sparse_vector":
            dense = [0.0] * int(cell["size"])
            for i, v in zip(cell["indices"], cell["v"]):
                dense[int(i)] = v
            for i, v in enumerate(dense):
                yield path + (i,), float(v)
            return
        if kind == "matrix":
            for i, v in enumerate(cell["v"]):
                yield path + (i,), float(v)
            return
        if kind == "dict":
            for k in sorted(cell["v"]):
                yield from _leaves(cell["v"][k], path + (k,))
            return
        if kind == "pairs":
            for pair in sorted(cell["v"], key=lambda p: json.dumps(p, sort_keys=True)):
                yield path + ("key",), json.dumps(pair[0], sort_keys=True)
                yield from _leaves(pair[1], path + (json.dumps(pair[0], sort_keys=True),))
            return
        if kind == "float":
            yield path, cell["v"]  # "nan", "inf": compared as they are
            return
        yield path, json.dumps(cell, sort_keys=True)
        return
    if isinstance(cell, list):
        for i, v in enumerate(cell):
            yield from _leaves(v, path + (i,))
        return
    yield path, cell


def _is_float(value):
    return isinstance(value, float) and math.isfinite(value)


def _grid_choice(value, step):
    """0: round to the nearest multiple of step (lines at half steps); 1: floor (lines at whole steps)."""
    fraction = value / step - math.floor(value / step)
    return 0 if fraction < 0.25 or fraction >= 0.75 else 1


def _cell_index(value, step, choice):
    return math.floor(value / step + (0.5 if choice == 0 else 0.0))


def _normalised_rows(names, rows, tolerance, plan=None):
    """Rows with every float replaced by its grid cell. ``plan`` ({sub-column: (step, bits)}) is the release's
    choice of grid per value, by rank within its sub-column; without it, the choice is made here and returned."""
    floats = {}  # sub-column -> [(value, row, leaf index)]
    leaves = []
    keys = {}  # (column, path) -> its sub-column's name: the same few for every row
    for r, row in enumerate(rows):
        row_leaves = []
        for c, cell in enumerate(row):
            for path, leaf in (_leaves(cell) if isinstance(cell, (dict, list)) else (((), cell),)):
                key = keys.get((c, path))
                if key is None:
                    key = keys[(c, path)] = json.dumps([names[c] if c < len(names) else c, *path])
                if _is_float(leaf):
                    floats.setdefault(key, []).append((leaf, r, len(row_leaves)))
                row_leaves.append((c, key, leaf))
        leaves.append(row_leaves)
    made = {}
    for key, values in floats.items():
        values.sort(key=lambda item: item[0])
        if plan is not None and key in plan:
            step, bits = plan[key]
        else:
            largest = max(abs(v) for v, _, _ in values)
            step = max(tolerance, largest * 1e-12)
            bits = [_grid_choice(v, step) for v, _, _ in values]
        made[key] = (step, bits)
        for rank, (value, r, i) in enumerate(values):
            choice = bits[rank] if rank < len(bits) else 0
            c, k, _ = leaves[r][i]
            leaves[r][i] = (c, k, ["cell", _cell_index(value, step, choice)])
    normalised = []
    for row_leaves in leaves:
        cells = [[] for _ in names]
        for c, key, leaf in row_leaves:
            if c < len(cells):
                cells[c].append([key, leaf])
        normalised.append(cells)
    return normalised, made


def _hash(salt, what, value):
    text = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.pbkdf2_hmac("sha256", text, f"{salt}/{what}".encode(), ITERATIONS).hex()[:24]


def _pack(bits):
    data = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            data[i // 8] |= 1 << (i % 8)
    return base64.b64encode(bytes(data)).decode()


def _unpack(text, n):
    data = base64.b64decode(text)
    return [(data[i // 8] >> (i % 8)) & 1 for i in range(n)]


# --- fingerprint and compare ---------------------------------------------------------------------------------


def fingerprint(data, salt, tolerance=1e-6, ordered=False):
    """The fingerprint of one encoded answer (see the module's docstring)."""
    names, rows = _table(data)
    ordered = ordered or _is_model(data)  # a pipeline's stages come in order
    normalised, made = _normalised_rows(names, rows, tolerance)
    columns = {name: _hash(salt, f"column {name}", sorted(json.dumps(r[i]) for r in normalised))
               for i, name in enumerate(names)}
    row_texts = [json.dumps(r) for r in normalised]
    return {
        "version": VERSION, "shape": shape_of(data), "tolerance": tolerance, "ordered": ordered,
        "rows": _hash(salt, "rows", len(rows)),
        "columns": columns,
        "all": _hash(salt, "all", row_texts if ordered else sorted(row_texts)),
        "grids": {key: [step, len(bits), _pack(bits)] for key, (step, bits) in made.items()},
    }


def compare(data, expected, salt):
    """(matches, parts): whether an encoded answer has the fingerprinted values, and what matched, part by part."""
    names, rows = _table(data)
    plan = {key: (step, _unpack(bits, n)) for key, (step, n, bits) in expected["grids"].items()}
    count_ok = _hash(salt, "rows", len(rows)) == expected["rows"]
    count = "the number of stages" if _is_model(data) else "the row count"
    parts = [(count, count_ok)] if len(names) > 1 or len(rows) != 1 else []
    normalised, _ = _normalised_rows(names, rows, expected["tolerance"], plan)
    row_texts = [json.dumps(r) for r in normalised]
    whole = _hash(salt, "all", row_texts if expected["ordered"] else sorted(row_texts)) == expected["all"]
    if whole:
        return True, parts
    if count_ok:
        for i, name in enumerate(names):
            same = _hash(salt, f"column {name}", sorted(json.dumps(r[i]) for r in normalised)) == expected["columns"].get(name)
            parts.append((name if name in MODEL_COLUMNS else f"`{name}`" if name not in ("value", "item") else
                          "the value" if len(rows) == 1 else "the items", same))
    if all(ok for _, ok in parts) and parts:
        whole = "the stages as a whole" if _is_model(data) else "the rows as a whole"
        parts.append((whole + (" (in order)" if expected["ordered"] and not _is_model(data) else ""), False))
    return False, parts


def describe_parts(parts):
    """'the row count is right; `a` matches; `b` differs' (nothing about the expected values themselves)."""
    words = []
    for what, ok in parts:
        if what in ("the row count", "the number of stages"):
            words.append(f"{what} is {'right' if ok else 'wrong'}")
        else:
            plural = what in ("the items", MODEL_COLUMNS[0])
            words.append(f"{what} {('match' if plural else 'matches') if ok else ('differ' if plural else 'differs')}")
    return "; ".join(words)

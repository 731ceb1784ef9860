"""What a notebook's exercises call: ``check_answer`` in each test cell, ``hint`` on request, ``progress`` at the end.

``check_answer("ex1", successful_phd=successful_phd)`` does three things:

1. When the notebook is graded (``SPARKCOURSE_RECORD=1``), it records the answers as plain data
   (sparkcourse/answers.py) in the cell's output; the clean checker grades those, never the kernel.
2. It checks the answer's shape (kind, columns, types), which the prompt states anyway.
3. It compares the values with the fingerprint of the expected answer that ``make release``
   computed by running the solution (sparkcourse/fingerprints.py), and says which part differs,
   without showing any expected value. Answers named in ``hidden`` have a small space (a boolean,
   a small number): a fingerprint would give them away, so only the hidden tests check their values.

Hidden tests, run by the instructor's grading, stay the authority: a self-check is for learning.
"""

import json
import os
from pathlib import Path

from .answers import MIME, AnswerDataError, _encode, encode_data
from .errors import AnswerError, CourseError
from .fingerprints import FingerprintError, compare, describe_parts, shape_of

PASSED = "✓ self-check passed"
_state = {"lesson": None, "mode": "student"}  # mode: "student", or "checker" inside the grading checker


def use_lesson(lesson):
    """Say which lesson this notebook is (the setup cell does): its self-checks and hints are looked up by name."""
    _state["lesson"] = lesson
    return lesson


def _checks_file(lesson):
    """The release's self-check file for a lesson: beside the notebook, or in the course's notebooks/ folder."""
    name = f"{lesson}.checks.json"
    candidates = [Path(os.environ["SPARKCOURSE_CHECKS"]) / name] if os.environ.get("SPARKCOURSE_CHECKS") else []
    candidates += [Path.cwd() / name, Path(__file__).resolve().parents[1] / "notebooks" / lesson / name]
    return next((path for path in candidates if path.is_file()), None)


def _checks(lesson):
    path = _checks_file(lesson) if lesson else None
    if path is None:
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _record(exercise, options, answers):
    """Put the answers in the cell's output as data, for the grading checker (only while graded).

    Returns the answers as plain data ({name: data}) when it recorded them, for the self-check to reuse.
    """
    if os.environ.get("SPARKCOURSE_RECORD") != "1":
        return None
    from IPython.display import display

    try:
        encoded = {name: _encode(value, 0) for name, value in answers.items()}
        payload = encode_data(encoded)
    except AnswerDataError as error:
        print(f"Your answer to {exercise} could not be recorded for grading: {error}.")
        return None
    display({MIME: {"exercise": exercise, "options": options, "answers": payload}}, raw=True)
    return encoded


def check_answer(exercise, *, ordered=False, tolerance=1e-6, hidden=(), **answers):
    """Check (and, when graded, record) the answers of one exercise; see the module's docstring.

    ``ordered``: row order is part of the answer (the exercise asks for a sort). ``tolerance``: how
    far a number may be from the expected one (absolute). ``hidden``: names whose values only the
    hidden tests check.
    """
    if not answers:
        raise CourseError("check_answer needs the answers to check, e.g. check_answer('ex1', result=result)")
    options = {"ordered": bool(ordered), "tolerance": float(tolerance), "hidden": sorted(hidden)}
    recorded = _record(exercise, options, answers) or {}
    if _state["mode"] == "checker":
        return  # in the grading checker the hidden tests judge the values; the shape is theirs to check too
    lesson = _state["lesson"]
    checks = _checks(lesson)
    expected = ((checks or {}).get("exercises") or {}).get(exercise)
    if expected is None:
        print(f"(No self-check for {exercise} here: its values are checked when your notebook is graded.)")
        return

    said = []
    for name, value in answers.items():
        want = expected["answers"].get(name)
        if want is None:
            raise CourseError(f"{exercise} has no expected answer named `{name}` (is this the course's test cell?)")
        data = recorded[name] if name in recorded else _encode(value, 0)  # the plain data the fingerprints were made from
        _check_shape(name, value, data, want["shape"])
        if want.get("hidden"):
            said.append(f"`{name}` has the right shape; its values are checked when graded")
            continue
        try:
            matches, parts = compare(data, want["fingerprint"], f"{lesson}/{exercise}/{name}")
        except FingerprintError as error:
            raise AnswerError(f"`{name}` cannot be self-checked: {error}.") from None
        if not matches:
            detail = describe_parts(parts)
            raise AnswerError(f"`{name}` has the right shape, but not yet the expected values"
                              + (f": {detail}." if detail else "."))
        said.append(f"`{name}` has the expected values")
    print(f"{PASSED}: {exercise} · " + "; ".join(said) + ".")


def _check_shape(name, value, data, want):
    from .checks import describe

    got = shape_of(data)
    if got["kind"] != want["kind"]:
        hint = ""
        if want["kind"] == "a Spark DataFrame" and got["kind"] == "a pandas DataFrame":
            hint = " Use Spark, not pandas: build it from the Spark DataFrame."
        if want["kind"] == "a pandas DataFrame" and got["kind"] == "a Spark DataFrame":
            hint = " Collect your Spark result with .toPandas()."
        raise AnswerError(f"`{name}` should be {want['kind']}, but it is {describe(value)}.{hint}")
    if "columns" in want:
        expected_names = [c for c, _ in want["columns"]]
        actual_names = [c for c, _ in got["columns"]]
        if actual_names != expected_names:
            missing = [c for c in expected_names if c not in actual_names]
            extra = [c for c in actual_names if c not in expected_names]
            detail = "; ".join(p for p in (f"missing {missing}" if missing else "",
                                           f"unexpected {extra}" if extra else "") if p) or "same names, different order"
            raise AnswerError(f"`{name}` should have the columns {expected_names}, but it has {actual_names} ({detail}).")
        wrong = [f"`{c}` should be {t} but is {a}" for (c, t), (_, a) in zip(want["columns"], got["columns"]) if t != a]
        if wrong:
            raise AnswerError(f"`{name}` has the right columns but the wrong types: {'; '.join(wrong)}.")
    if "keys" in want and got.get("keys") != want["keys"]:
        raise AnswerError(f"`{name}` should have the keys {want['keys']}, but it has {got.get('keys')}.")


def hint(exercise, number=1):
    """Show a hint for an exercise: ``hint(3)`` for the first hint of exercise 3, ``hint(3, 2)`` for the second."""
    key = f"ex{exercise}" if isinstance(exercise, int) else str(exercise)
    checks = _checks(_state["lesson"])
    hints = (((checks or {}).get("exercises") or {}).get(key) or {}).get("hints") or []
    if not hints:
        print(f"There is no hint for {key} in this lesson.")
        return
    index = max(1, min(int(number), len(hints)))
    more = f" (hint({exercise}, {index + 1}) for the next)" if index < len(hints) else ""
    print(f"Hint {index} of {len(hints)} for {key}{more}: {hints[index - 1]}")


def progress(folder=None):
    """Each lesson's exercises and how they stand in your saved notebooks (the notebooks are only read)."""
    from .progress import course_progress, render

    print(render(course_progress(Path(folder) if folder else None)))

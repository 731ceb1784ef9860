"""What students get: byte-stable notebooks, lesson sources that round-trip as text, a bundle and self-check files
that carry nothing of the instructors' (no solution, no hidden test, no held-out label, no expected value)."""

import io
import json
import re
import zipfile

import nbformat
import pandas as pd
import pytest

from grader.course import NOTEBOOKS, ROOT, SOLUTIONS, lessons, nbgrader, student_notebook, throwaway_course
from grader.release import bundle, lesson_text, selfchecks

FIXTURES = ROOT / "tests" / "fixtures" / "course"
HASH = re.compile(r"^[0-9a-f]{24}$")

pytestmark = pytest.mark.fast


def test_lesson_text_round_trips_every_solution():
    for path in [*SOLUTIONS.glob("*/*.ipynb"), *(FIXTURES / "solutions").glob("*/*.ipynb")]:
        again = lesson_text.to_notebook(lesson_text.to_script(nbformat.read(path, as_version=4)))
        assert nbformat.writes(again) + "\n" == path.read_text(), f"{path.name} does not round-trip"


def test_a_release_is_byte_stable(tmp_path):
    course = throwaway_course(tmp_path, ["00_fixture"], source=FIXTURES)
    first = student_notebook("00_fixture", course).read_bytes()
    nbgrader("generate_assignment", "00_fixture", "--force", cwd=course)
    assert student_notebook("00_fixture", course).read_bytes() == first


def instructors_lines():
    """The distinctive lines of every solution's solution and hidden-test blocks: those that appear nowhere a
    student may see them (the rest of the solution notebooks, the helper package)."""
    blocks = re.compile(r"### BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)### END[^\n]*", re.S)
    secret, public = set(), []
    for path in SOLUTIONS.glob("*/*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            for block in blocks.findall(cell.source):
                secret.update(line.strip() for line in block.splitlines() if len(line.strip()) > 30)
                public += [line for line in block.splitlines() if line.strip().startswith("# HINT:")]  # given out
            public.append(blocks.sub("", cell.source))
    public += [path.read_text() for path in (ROOT / "sparkcourse").rglob("*.py")]
    public = "\n".join(public)
    return sorted(line for line in secret if line not in public)


def test_the_student_bundle_is_byte_stable_and_holds_nothing_of_the_instructors(tmp_path):
    first, second = bundle.build(tmp_path / "a.zip"), bundle.build(tmp_path / "b.zip")
    assert first.read_bytes() == second.read_bytes(), "the bundle is not byte-stable"
    with zipfile.ZipFile(first) as z:
        names = z.namelist()
        text = b"".join(z.read(n) for n in names)
        code = b"".join(z.read(n) for n in names if not n.endswith(".md"))  # the README explains the markers
        files = {n: z.read(n) for n in names}
    assert any(n.endswith("notebooks/00_spark_for_pandas_users/00_spark_for_pandas_users.ipynb") for n in names)
    assert any(n.endswith("data/grants.csv") for n in names)
    assert not any(part in n for n in names for part in ("solutions/", "grader/", "tests/", "gradebook"))
    assert b"BEGIN HIDDEN TESTS" not in code and b"BEGIN SOLUTION" not in code and b"# HINT:" not in code
    for line in instructors_lines():  # and no line of a solution or a hidden test is anywhere in it, docs included
        assert line.encode() not in text, f"the bundle holds a line of the instructors': {line!r}"
    assert not heldout_leaks(files)  # a capstone's held-out labels: nowhere in the bundle
    labels = ROOT / "grader" / "heldout" / "grants_heldout_labels.csv"  # and the check sees them when they are there
    table = b"application_id,sponsor_code,granted\n" + b"\n".join(
        line.replace(b",", b",X,") for line in labels.read_bytes().splitlines()[1:4])
    assert heldout_leaks({"data/copy.csv": labels.read_bytes()}) and heldout_leaks({"data/t.csv": table})


def heldout_leaks(files):
    """(bundle file, held-out file) pairs where a bundle file holds a line of a held-out labels file, or is a
    table with its columns and one of its rows. Lines are compared whole: an id that starts a longer line is no leak."""
    leaks = []
    for path in sorted((ROOT / "grader" / "heldout").glob("*.csv")):
        held, records = pd.read_csv(path), set(path.read_bytes().splitlines()[1:])
        for name, data in files.items():
            if records & set(data.splitlines()):
                leaks.append((name, path.name))
            elif name.endswith(".csv"):
                table = pd.read_csv(io.BytesIO(data))
                if set(held.columns) <= set(table.columns) and not table.merge(held, on=list(held.columns)).empty:
                    leaks.append((name, path.name))
    return leaks


def walk(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk(item, path + (i,))
    else:
        yield path, value


def allowed_in_checks(path, value):
    """A self-check file holds shapes (kinds, column names and types), hashes, grid bits, options and hints."""
    keys = [k for k in path if isinstance(k, str)]
    if "hints" in keys or keys[-1] in ("lesson", "version", "kind", "tolerance", "ordered", "streaming", "hidden"):
        return True
    if "columns" in keys and "shape" in keys or "keys" in keys:
        return isinstance(value, str)  # column names, types, dict keys: the prompt says them
    if keys[-1] in ("rows", "all") or "columns" in keys and "fingerprint" in keys:
        return isinstance(value, str) and HASH.match(value)
    if "grids" in keys:
        return isinstance(value, (int, float)) or isinstance(value, str)  # the step, a count, the packed bits
    return False


@pytest.mark.parametrize("lesson", lessons())
def test_self_check_files_hold_no_expected_value(lesson):
    checks = json.loads((NOTEBOOKS / lesson / f"{lesson}.checks.json").read_text())
    bad = [(path, value) for path, value in walk(checks) if not allowed_in_checks(path, value)]
    assert not bad, f"{lesson}: the self-check file holds more than shapes and hashes: {bad[:5]}"


def test_a_released_notebook_and_its_self_checks_hold_none_of_the_solutions_values(tmp_path):
    """The fixture's solution, run for real: none of its answers' values appear in what students get."""
    course = throwaway_course(tmp_path, ["00_fixture"], source=FIXTURES)
    executed = selfchecks.run_solution("00_fixture", root=course)
    recorded = selfchecks.recorded_answers(executed)
    content = selfchecks.build("00_fixture", recorded, nbformat.read(course / "solutions" / "00_fixture" /
                                                                     "00_fixture.ipynb", as_version=4))
    # What students get, hashes and packed bits aside (they are hashes by construction: see the test above).
    readable = [str(v) for path, v in walk(content) if allowed_in_checks(path, v) and not (
        isinstance(v, str) and (HASH.match(v) or "grids" in path))]
    released = student_notebook("00_fixture", course).read_text() + "\n".join(readable)
    values = {str(v) for _, _, answers in recorded for name, data in answers.items() for path, v in walk(data)
              if isinstance(v, (int, float)) and not isinstance(v, bool) and "schema" not in path and abs(v) >= 10
              or isinstance(v, str) and "rows" in path and len(v) >= 2}
    assert values, "the fixture recorded no values to look for"
    leaked = sorted(v for v in values if re.search(rf"(?<![\w.]){re.escape(v)}(?![\w.])", released))
    assert not leaked, f"values of the solution appear in what students get: {leaked[:10]}"

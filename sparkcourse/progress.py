"""Your progress across the course, read from your saved notebooks (never changed): ``make progress``.

For each lesson and exercise: passes (its self-check passed when the test cell last ran), not yet
(the test cell said what is still wrong), not run (the test cell has no output), or not started
(the answer cell is still the stub). Written answers count as written once they are not the
placeholder. Run a notebook's test cells and save it to update its line.

    python -m sparkcourse.progress [FOLDER]      (default: the course's notebooks/)
"""

import argparse
import json
import re
from pathlib import Path

STUB = "raise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
LESSON = re.compile(r"^\d\d_[a-z0-9_]+$")
TEST_ID = re.compile(r"^(ex\d+)-test$")
SYMBOLS = {"passes": "✓", "not yet": "✗", "not run": "·", "not started": "○", "written": "✎", "to write": "○"}


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _text(output):
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else text


def lesson_progress(path):
    """[(exercise, status)] for one saved notebook."""
    from .exercises import PASSED

    try:
        nb = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return [("notebook", "unreadable")]
    statuses, started = [], {}
    for cell in nb.get("cells", []):
        meta = _meta(cell)
        source = "".join(cell.get("source", "")) if isinstance(cell.get("source"), list) else cell.get("source", "")
        grade_id = meta.get("grade_id", "")
        if meta.get("solution") and cell.get("cell_type") == "code":
            started[grade_id.removesuffix("-answer")] = STUB not in source
        elif meta.get("solution") and meta.get("grade"):
            statuses.append((grade_id, "written" if source.strip() and TEXT_STUB not in source else "to write"))
        elif meta.get("grade") and TEST_ID.match(grade_id):
            exercise = TEST_ID.match(grade_id).group(1)
            outputs = cell.get("outputs", [])
            if not started.get(exercise, True):
                status = "not started"
            elif any(o.get("output_type") == "error" for o in outputs):
                status = "not yet"
            elif any(PASSED in _text(o) for o in outputs):
                status = "passes"
            else:
                status = "not run"
            statuses.append((exercise, status))
    return statuses


def course_progress(folder=None):
    """{lesson: [(exercise, status)]} for every lesson notebook in the folder (default: notebooks/)."""
    folder = Path(folder) if folder else Path(__file__).resolve().parents[1] / "notebooks"
    table = {}
    for lesson_dir in sorted(p for p in folder.iterdir() if p.is_dir() and LESSON.match(p.name)):
        notebook = lesson_dir / f"{lesson_dir.name}.ipynb"
        if notebook.exists():
            table[lesson_dir.name] = lesson_progress(notebook)
    return table


def render(table):
    """One line per lesson: how many exercises pass, then each exercise with its symbol."""
    lines = ["lesson                              passes  exercises (✓ passes, ✗ not yet, · not run, ○ not started, ✎ written)"]
    total = passing = 0
    for lesson, statuses in table.items():
        exercises = [(e, s) for e, s in statuses if s not in ("written", "to write")]
        done = sum(s == "passes" for _, s in exercises)
        total, passing = total + len(exercises), passing + done
        marks = "  ".join(f"{SYMBOLS.get(s, '?')}{e}" for e, s in statuses)
        lines.append(f"{lesson:<36}{done:>2}/{len(exercises):<4} {marks}")
    lines.append(f"{'the whole course':<36}{passing:>2}/{total}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, help="the folder of lesson folders (default: notebooks/)")
    args = parser.parse_args(argv)
    print(render(course_progress(args.folder)))


if __name__ == "__main__":
    main()

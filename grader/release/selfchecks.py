"""The self-check file of a lesson: fingerprints of the solution's answers and the exercises' hints.

``make release`` runs each solution notebook (visible tests only) with recording on, takes the
answers every ``check_answer`` recorded, and writes notebooks/<lesson>/<lesson>.checks.json:
per exercise, each answer's public shape and fingerprint (sparkcourse/fingerprints.py), or only its
shape for answers the exercise keeps to hidden tests; and the hints written in the solution as
``# HINT: ...`` lines (they never reach the released notebook, only this file, shown on request).
"""

import json
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from sparkcourse.answers import MIME
from sparkcourse.fingerprints import fingerprint, shape_of

from ..course import ROOT, source_notebook, student_notebook, tool_env

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
HINT = re.compile(r"^\s*# HINT: ?(.*)$", re.M)


def checks_path(lesson, root=ROOT):
    return student_notebook(lesson, root).with_name(f"{lesson}.checks.json")


def visible_only(nb):
    """The notebook with the hidden tests taken out of every cell (what the student's kernel runs)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = HIDDEN.sub("", cell.source)
    return nb


def recorded_answers(nb):
    """[(exercise, options, {name: encoded answer})] from an executed notebook's outputs, in cell order."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            bundle = output.get("data", {}).get(MIME) if output.get("output_type") == "display_data" else None
            if bundle:
                found.append((bundle["exercise"], bundle["options"], json.loads(bundle["answers"])))
    return found


def hints(source_nb):
    """{exercise: [hint, ...]} from the ``# HINT:`` lines inside each solution region."""
    found = {}
    for cell in source_nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if cell.cell_type == "code" and grade_id.endswith("-answer"):
            for region in SOLUTION.findall(cell.source):
                found.setdefault(grade_id.removesuffix("-answer"), []).extend(HINT.findall(region))
    return {k: v for k, v in found.items() if v}


def build(lesson, recorded, source_nb):
    """The self-check file's content for a lesson, from the solution's recorded answers."""
    exercises = {}
    for exercise, options, answers in recorded:
        entry = exercises.setdefault(exercise, {"answers": {}})
        for name, data in answers.items():
            if name in options.get("hidden", []):
                entry["answers"][name] = {"shape": shape_of(data), "hidden": True}
            else:
                entry["answers"][name] = {"shape": shape_of(data), "fingerprint": fingerprint(
                    data, f"{lesson}/{exercise}/{name}", options["tolerance"], options["ordered"])}
    for exercise, texts in hints(source_nb).items():
        exercises.setdefault(exercise, {"answers": {}})["hints"] = texts
    return {"lesson": lesson, "version": 1, "exercises": dict(sorted(exercises.items()))}


def run_solution(lesson, env=None, timeout=300, root=ROOT):
    """Execute the solution notebook (without its hidden tests) with recording on; the executed notebook."""
    nb = visible_only(nbformat.read(source_notebook(lesson, root), as_version=4))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(source_notebook(lesson, root).parent)}})
    client.execute(env=tool_env(SPARKCOURSE_RECORD="1", **(env or {})))
    return nb


def write(lesson, content, root=ROOT):
    path = checks_path(lesson, root)
    path.write_text(json.dumps(content, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return path


def release_checks(lesson, root=ROOT):
    """Run the solution, fingerprint its answers, write the lesson's self-check file; return its path."""
    executed = run_solution(lesson)
    return write(lesson, build(lesson, recorded_answers(executed),
                               nbformat.read(source_notebook(lesson), as_version=4)), root)


def read(lesson, root=ROOT):
    path = checks_path(lesson, root)
    return json.loads(path.read_text()) if path.exists() else None


def main():
    import argparse

    from ..course import lessons

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lessons (default: all)")
    args = parser.parse_args()
    for lesson in args.lessons or lessons():
        print(f"wrote {Path(release_checks(lesson)).relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Where the course's parts live, and how to run nbgrader on them: shared by every grader tool."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
RECORDED_ANSWERS = ROOT / "grader" / "harness" / "answers"
LESSON_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")


def is_test(cell):
    """An autograded test cell (nbgrader's own predicates: a grade cell that is not a solution)."""
    from nbgrader.utils import is_grade, is_solution

    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def is_answer(cell):
    """A code cell the student writes (nbgrader: a solution cell that is not graded itself)."""
    from nbgrader.utils import is_grade, is_solution

    return cell.cell_type == "code" and is_solution(cell) and not is_grade(cell)


def lessons(root=ROOT):
    """Every lesson of a course directory (default: this repository), by its NN_topic name, in order."""
    folders = [Path(root) / "solutions", Path(root) / "notebooks"]
    return sorted({p.name for folder in folders if folder.is_dir() for p in folder.iterdir()
                   if p.is_dir() and LESSON_NAME.match(p.name)})


def source_notebook(lesson, root=ROOT):
    return root / "solutions" / lesson / f"{lesson}.ipynb"


def student_notebook(lesson, root=ROOT):
    return root / "notebooks" / lesson / f"{lesson}.ipynb"


def tool_env(**extra):
    """The environment for nbgrader and kernels: this interpreter's tools first on PATH, Spark UI off."""
    env = dict(os.environ, SPARKCOURSE_UI="0", **extra)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def nbgrader(*args, cwd=ROOT, timeout=1800, env=None):
    """Run an nbgrader command in a course directory (env: extra variables); raise with its output if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=tool_env(**(env or {})),
        capture_output=True, text=True, timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed in {cwd}:\n{result.stdout}\n{result.stderr}")
    return result


def throwaway_course(folder, chosen, source=ROOT):
    """A course directory holding just these lessons (from ``source``'s solutions/), released afresh by nbgrader.

    The one way tools and tests make a course of their own: the repository's nbgrader_config.py, the
    lessons' source folders, ``nbgrader generate_assignment`` for each.
    """
    import shutil

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", folder / "nbgrader_config.py")
    for lesson in chosen:
        shutil.copytree(Path(source) / "solutions" / lesson, folder / "solutions" / lesson)
        nbgrader("generate_assignment", lesson, "--force", cwd=folder)
        checks = Path(source) / "notebooks" / lesson / f"{lesson}.checks.json"  # the release's self-check file
        if checks.exists():
            shutil.copy(checks, folder / "notebooks" / lesson / checks.name)
    return folder


def release(lesson, root=ROOT):
    """Generate notebooks/<lesson>/ (the student version) from solutions/<lesson>/ with nbgrader."""
    return nbgrader("generate_assignment", lesson, "--force", cwd=root)

"""Where the course's parts live, and how to run nbgrader on them: shared by every grader tool."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
WRONG_ANSWERS = ROOT / "grader" / "wrong_answers"
LESSON_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")


def lessons():
    """Every lesson, by its NN_topic name, in order."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and LESSON_NAME.match(p.name))


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


def release(lesson, root=ROOT):
    """Generate notebooks/<lesson>/ (the student version) from solutions/<lesson>/ with nbgrader."""
    return nbgrader("generate_assignment", lesson, "--force", cwd=root)

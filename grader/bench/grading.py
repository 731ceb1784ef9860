"""Benchmark: grade the same synthetic class with plain sequential `nbgrader autograde` and with grader.grade.

Prints notebooks per minute for both and the ratio, from one run on this machine. A benchmark,
not a test. Run: python -m grader.bench.grading [--students 20] [--lesson 00_spark_for_pandas_users]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import nbformat

from ..course import ROOT, nbgrader, throwaway_course
from ..grade import batch as autograde
from ..grade.gradebook import auto_points, gradebook_url
from . import synthetic


def make_course(folder, lesson, students):
    """A throwaway course with the lesson and these students' notebooks submitted."""
    course = throwaway_course(folder, [lesson])
    for student, nb in students.items():
        target = course / "submitted" / student / lesson
        target.mkdir(parents=True)
        nbformat.write(nb, target / f"{lesson}.ipynb")
    return course


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--lesson", default="00_spark_for_pandas_users")
    parser.add_argument("--workers", type=int, default=autograde.DEFAULTS["workers"])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "grading.md")
    args = parser.parse_args(argv)
    students = synthetic.class_of(args.lesson, args.students)
    with tempfile.TemporaryDirectory() as tmp:
        plain = make_course(Path(tmp) / "plain", args.lesson, students)
        ours = make_course(Path(tmp) / "ours", args.lesson, students)
        start = time.perf_counter()
        nbgrader("autograde", args.lesson, "--force", cwd=plain, timeout=7200)
        t_plain = time.perf_counter() - start
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            autograde.grade(ours, [args.lesson], workers=args.workers, spark="connect", out=quiet)
        t_ours = time.perf_counter() - start
        same = plain_scores(plain, args.lesson) == {s: v for s, v in ours_scores(ours).items()}
    n = args.students
    table = (
        f"| grading {n} submissions of {args.lesson} | seconds | notebooks/min |\n|---|---:|---:|\n"
        f"| plain `nbgrader autograde` (sequential, a JVM per notebook) | {t_plain:.0f} | {n / t_plain * 60:.1f} |\n"
        f"| `grader.grade` ({args.workers} workers, sandboxed, warm Spark Connect) | {t_ours:.0f} | "
        f"{n / t_ours * 60:.1f} |\n\nspeed-up: {t_plain / t_ours:.1f}x; same scores both ways: {same}\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    print(table)


def plain_scores(course, lesson):
    from nbgrader.api import Gradebook

    with Gradebook(gradebook_url(course)) as gradebook:
        return {s.student.id: auto_points(g for n in s.notebooks for g in n.grades)[0]
                for s in gradebook.find_assignment(lesson).submissions}


def ours_scores(course):
    import csv

    with open(course / "grades.csv") as f:
        return {row["student"]: float(row["score"]) for row in csv.DictReader(f)}


if __name__ == "__main__":
    main()

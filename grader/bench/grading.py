"""Benchmark: grade the same synthetic class with plain sequential `nbgrader autograde` and with grader.grade.

The two sides take turns, in rounds, so that both see the same machine: in each round, plain nbgrader
grades its share of the class (a slice: it grades one notebook after another with a fresh JVM each, so
its rate does not depend on the batch's size), then grader.grade grades the whole class in a fresh
course (its fixed costs, such as the shared server's start, are paid per batch, as an instructor pays
them). Each round gives both rates (notebooks per minute) and their ratio; the speed-up is the median
of the rounds' ratios. A benchmark, not a test. Run:
python -m grader.bench.grading [--students 20] [--rounds 3] [--lesson 00_spark_for_pandas_users]
"""

import argparse
import os
import statistics
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
    parser.add_argument("--rounds", type=int, default=3, help="turns of each side (the speed-up is their median)")
    parser.add_argument("--lesson", default="00_spark_for_pandas_users")
    parser.add_argument("--workers", type=int, default=autograde.DEFAULTS["workers"])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "grading.md")
    args = parser.parse_args(argv)
    if args.students < 1 or not 1 <= args.rounds <= args.students:
        parser.error("--rounds must be between 1 and --students")
    students = synthetic.class_of(args.lesson, args.students)
    names = sorted(students)
    slices = [names[k::args.rounds] for k in range(args.rounds)]
    rows, plain_all, ours_all = [], {}, []
    with tempfile.TemporaryDirectory() as tmp:
        # the plain course holds each round's slice under its own prefix, so that one glob selects it
        plain = make_course(Path(tmp) / "plain", args.lesson,
                            {f"r{k + 1}_{name}": students[name] for k, part in enumerate(slices) for name in part})
        for k, part in enumerate(slices):
            start = time.perf_counter()
            nbgrader("autograde", args.lesson, "--force", f"--student=r{k + 1}_*", cwd=plain, timeout=7200)
            t_plain = time.perf_counter() - start
            ours = make_course(Path(tmp) / f"ours{k + 1}", args.lesson, students)
            start = time.perf_counter()
            with open(os.devnull, "w") as quiet:
                autograde.grade(ours, [args.lesson], workers=args.workers, spark="connect", out=quiet)
            t_ours = time.perf_counter() - start
            ours_all.append(ours_scores(ours))
            plain_rate, ours_rate = len(part) / t_plain * 60, len(names) / t_ours * 60
            rows.append((k + 1, len(part), t_plain, plain_rate, t_ours, ours_rate, ours_rate / plain_rate))
        plain_all = {s.split("_", 1)[1]: v for s, v in plain_scores(plain, args.lesson).items()}
    same = all(scores == plain_all for scores in ours_all)
    speedup = statistics.median(r[-1] for r in rows)
    table = (
        f"Grading {len(names)} submissions of {args.lesson}: {args.rounds} rounds, the two sides in turn "
        f"(plain nbgrader a slice of the class per round, grader.grade the whole class with {args.workers} workers).\n\n"
        "| round | plain: notebooks | plain s | plain notebooks/min | grader.grade: notebooks | grader.grade s "
        "| grader.grade notebooks/min | speed-up |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        + "".join(f"| {k} | {n} | {tp:.0f} | {rp:.2f} | {len(names)} | {to:.0f} | {ro:.2f} | {x:.2f}x |\n"
                  for k, n, tp, rp, to, ro, x in rows)
        + f"\nspeed-up (median of the rounds): {speedup:.2f}x; same scores both ways, every round: {same}\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    print(table)
    return 0 if same else 1


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
    raise SystemExit(main())

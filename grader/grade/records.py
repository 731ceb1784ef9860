"""One record per graded submission (grading/<lesson>/<student>.json) and grades.csv, written so they always agree.

A record is written last, atomically, once the gradebook and the feedback page exist: a grader killed
before that leaves no record, and the next run grades the submission again. Only outcomes that are
the student's own are kept for re-runs to skip (graded, or a zero with a reason); the grader's own
trouble ("error") is recorded but never skips a re-run. grades.csv is made from the records, with the
points read from the gradebook, so both always say the same.
"""

import csv
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .gradebook import scores

FIELDS = ["student", "lesson", "score", "max_score", "status", "reason"]
FINAL = ("graded", "zero")  # statuses a re-run keeps; "error" is graded again


@dataclass
class Outcome:
    student: str
    lesson: str
    score: float
    max_score: float  # the autograded points; written answers are graded by hand in the formgrader
    status: str  # graded | zero | error
    reason: str
    sha256: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of the submission's own processes (its kernel, and its JVM when it has one)


def record_path(course, student, lesson):
    return Path(course) / "grading" / lesson / f"{student}.json"


def write_atomically(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save(course, outcome):
    write_atomically(record_path(course, outcome.student, outcome.lesson), json.dumps(asdict(outcome), indent=1) + "\n")


def unchanged(course, student, lesson, digest):
    """True when this exact notebook already has a final record (re-runs skip it)."""
    path = record_path(course, student, lesson)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return record.get("sha256") == digest and record.get("status") in FINAL


def write_csv(course):
    """grades.csv from every record, points as the gradebook has them."""
    course = Path(course)
    rows = []
    for path in sorted((course / "grading").glob("*/*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if record.get("status") == "graded":
            found = scores(course, record["student"], record["lesson"])
            if found is not None:
                record["score"], record["max_score"] = found
        rows.append(record)
    rows.sort(key=lambda r: (r["lesson"], r["student"]))
    out = course / "grades.csv"
    tmp = out.with_name(f".grades.csv.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out)
    return out

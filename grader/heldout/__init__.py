"""Held-out labels of the capstones: only grading has them (not notebooks/, not the student bundle).

A capstone's data generator writes the held-out rows' features into data/ and their labels here.
Hidden tests, which run in the grading checker (never in the student's kernel), read them with
``heldout_path``. grader/ is not part of the student bundle or the Docker image.
"""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def heldout_path(name):
    """The path of a held-out labels file, e.g. heldout_path("grants_heldout_labels.csv")."""
    path = FOLDER / name
    if not path.is_file():
        raise FileNotFoundError(f"no held-out file {name} in {FOLDER}: run make data")
    return str(path)

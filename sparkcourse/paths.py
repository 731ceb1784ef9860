"""Where the course's data lives, wherever a notebook runs (nbgrader runs submissions in other folders)."""

import os
from pathlib import Path

from .errors import CourseError

DATA_SUFFIXES = {".csv", ".json", ".parquet", ".txt", ".tsv"}


def data_dir():
    """The data folder: $SPARKCOURSE_DATA if set, else the data/ folder beside this package."""
    folder = Path(os.environ.get("SPARKCOURSE_DATA") or Path(__file__).resolve().parents[1] / "data")
    if not folder.is_dir():
        raise CourseError(
            f"The course data folder {folder} does not exist: set SPARKCOURSE_DATA to the folder "
            "holding grants.csv, or run from a full clone of the course."
        )
    return folder


def data_path(name):
    """The full path of a bundled data file, as a string Spark and pandas both accept."""
    folder = data_dir()
    path = folder / name
    if not path.exists():
        available = ", ".join(sorted(p.name for p in folder.iterdir() if p.suffix in DATA_SUFFIXES))
        raise CourseError(f"There is no data file {name!r} in {folder}. Available: {available}.")
    return str(path)

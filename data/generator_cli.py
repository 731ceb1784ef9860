"""The command line every data generator shares: ``--out DIR`` (and, for a capstone, ``--heldout DIR``), CSV files written.

A generator's ``main`` is one call: ``write_csvs(__doc__, {"ratings.csv": ratings, ...})``. A capstone's
generator also passes ``heldout={...}``: the held-out labels, written by default into grader/heldout/ (where
only grading reads them), never next to the data.
"""

import argparse
from pathlib import Path

DATA = Path(__file__).resolve().parent
HELDOUT = DATA.parent / "grader" / "heldout"


def write_csvs(doc, files, heldout=None, argv=None):
    """Parse the command line, write each {file name: pandas DataFrame} into --out (and --heldout), say what was written."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA, help="folder to write the data files to (default: data/)")
    if heldout is not None:
        parser.add_argument("--heldout", type=Path, default=HELDOUT,
                            help="folder to write the held-out labels to (default: grader/heldout/, read only by grading)")
    args = parser.parse_args(argv)
    for folder, frames in ((args.out, files), (getattr(args, "heldout", None), heldout or {})):
        if frames:
            folder.mkdir(parents=True, exist_ok=True)
        for name, frame in frames.items():
            frame.to_csv(folder / name, index=False)
            print(f"wrote {name}: {len(frame)} rows to {folder}")

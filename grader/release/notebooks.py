"""make release: notebooks/ from solutions/ with nbgrader, each lesson's self-check file, and the student bundle.

    python -m grader.release [LESSON ...] [--no-checks]
"""

import argparse
import shutil

from ..course import NOTEBOOKS, lessons, release
from . import bundle, selfchecks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lessons to release (default: all)")
    parser.add_argument("--no-checks", action="store_true",
                        help="keep the self-check files as they are (they take a run of each solution)")
    args = parser.parse_args(argv)
    chosen = args.lessons or lessons()
    for stale in NOTEBOOKS.iterdir() if not args.lessons and NOTEBOOKS.exists() else []:
        if stale.is_dir() and stale.name not in chosen:  # a lesson removed from solutions/
            shutil.rmtree(stale)
    for lesson in chosen:
        checks = selfchecks.read(lesson)
        release(lesson)  # nbgrader rewrites the lesson's folder
        if args.no_checks and checks is not None:
            selfchecks.write(lesson, checks)
        else:
            print(f"running the solution of {lesson} for its self-checks ...", flush=True)
            selfchecks.release_checks(lesson)
        print(f"released notebooks/{lesson}/")
    print(f"wrote {bundle.build(bundle.DEFAULT)} ({len(bundle.bundle_files())} files)")

"""Regenerate the student notebooks in notebooks/ from the solutions in solutions/ (make release)."""

import argparse
import shutil

from .course import NOTEBOOKS, lessons, release


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lessons to release (default: all)")
    args = parser.parse_args(argv)
    chosen = args.lessons or lessons()
    for stale in NOTEBOOKS.iterdir() if not args.lessons and NOTEBOOKS.exists() else []:
        if stale.is_dir() and stale.name not in chosen:  # a lesson removed from solutions/
            shutil.rmtree(stale)
    for lesson in chosen:
        release(lesson)
        print(f"released notebooks/{lesson}/")


if __name__ == "__main__":
    main()

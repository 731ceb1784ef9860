"""Collect submissions into the course's submitted/<student>/<lesson>/ folders, and say what could not be placed.

Takes nbgrader's exchange layout (<exchange>/<course>/inbound/<student>+<lesson>+<timestamp>...),
a flat folder, or a .zip of files named <student>_<lesson>.ipynb (what learning platforms export).

    python -m grader.collect SOURCE [--course DIR]
"""

import argparse
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from .course import ROOT, lessons

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def place(course, student, lesson, files, placed):
    target = course / "submitted" / student / lesson
    target.mkdir(parents=True, exist_ok=True)
    for src, name in files:
        shutil.copyfile(src, target / name)
    placed.append(f"{student}/{lesson}")


def from_exchange(inbound, course, known, placed, refused):
    """nbgrader's inbound folders: keep each student's latest submission of each lesson."""
    latest = {}
    for folder in sorted(p for p in inbound.iterdir() if p.is_dir()):
        parts = folder.name.split("+")
        if len(parts) < 3:
            refused.append((folder.name, "not an nbgrader submission folder (student+lesson+timestamp)"))
            continue
        student, lesson, stamp = parts[0], parts[1], parts[2]
        if not STUDENT_ID.match(student):
            refused.append((folder.name, f"{student!r} is not a valid student id"))
        elif lesson not in known:
            refused.append((folder.name, f"no lesson named {lesson!r}"))
        elif (student, lesson) not in latest or stamp > latest[student, lesson][0]:
            latest[student, lesson] = (stamp, folder)
    for (student, lesson), (stamp, folder) in sorted(latest.items()):
        files = [(p, p.name) for p in folder.iterdir() if p.is_file()]
        place(course, student, lesson, files, placed)
        (course / "submitted" / student / lesson / "timestamp.txt").write_text(stamp + "\n")


def from_flat(folder, course, known, placed, refused):
    """Files named <student>_<lesson>.ipynb, in any sub-folder."""
    seen = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(path.relative_to(folder))
        if path.name.startswith(".") or "__MACOSX" in path.parts:
            continue
        if path.suffix != ".ipynb":
            refused.append((name, "not an .ipynb file"))
            continue
        lesson = next((lesson for lesson in known if path.stem.endswith("_" + lesson)), None)
        if lesson is None:
            refused.append((name, f"the name does not end in _<lesson>.ipynb with a known lesson ({', '.join(known)})"))
            continue
        student = path.stem[: -len(lesson) - 1]
        if not STUDENT_ID.match(student):
            refused.append((name, f"{student!r} is not a valid student id"))
        elif (student, lesson) in seen:
            refused.append((name, f"a second file for {student}/{lesson}: kept {seen[student, lesson]}"))
        else:
            seen[student, lesson] = name
            place(course, student, lesson, [(path, f"{lesson}.ipynb")], placed)


def collect(source, course=ROOT, out=sys.stdout):
    """Place every submission found in source; return (placed, refused)."""
    source, course, known = Path(source), Path(course), lessons()
    placed, refused = [], []
    with tempfile.TemporaryDirectory() as tmp:
        if source.is_file() and zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as archive:
                for member in archive.infolist():  # never write outside the temporary folder
                    if not member.is_dir() and ".." not in Path(member.filename).parts:
                        archive.extract(member, tmp)
            source = Path(tmp)
        elif not source.is_dir():
            raise SystemExit(f"{source} is neither a folder nor a .zip file")
        inbound = next((p for p in [source, *source.glob("inbound"), *source.glob("*/inbound")]
                        if p.name == "inbound" and p.is_dir()), None)
        if inbound is not None:
            from_exchange(inbound, course, known, placed, refused)
        else:
            from_flat(source, course, known, placed, refused)
    print(f"placed {len(placed)} submissions in {course / 'submitted'}", file=out)
    if refused:
        print(f"could not place {len(refused)}:", file=out)
        for name, reason in refused:
            print(f"  {name}: {reason}", file=out)
    return placed, refused


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="an exchange folder, a flat folder, or a .zip")
    parser.add_argument("--course", type=Path, default=ROOT, help="nbgrader course directory (default: the repository)")
    args = parser.parse_args(argv)
    collect(args.source, args.course)


if __name__ == "__main__":
    main()

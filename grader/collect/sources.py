"""Collect submissions into the course's submitted/<student>/<lesson>/ folders, and say what could not be placed.

Takes nbgrader's exchange layout (<exchange>/<course>/inbound/<student>+<lesson>+<timestamp>...),
a flat folder, or a .zip of files named <student>_<lesson>.ipynb (what learning platforms export).

What is placed is only ever the lesson's notebook, a regular file read without following links,
copied into a folder nobody else writes. In an exchange, a folder counts as a student's only when
that student's own account owns it (as nbgrader's collect checks): a folder named after somebody
else, with a later timestamp, is reported and left alone. Everything not placed is listed with why.

    python -m grader.collect SOURCE [--course DIR] [--no-check-owner]
"""

import argparse
import os
import pwd
import re
import stat
import sys
import tempfile
import zipfile
from pathlib import Path

from ..course import ROOT, lessons
from ..grade.preflight import MAX_NOTEBOOK_BYTES

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def read_regular(path):
    """A regular file's bytes, never through a link, never more than the notebook limit (else None, why)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        return None, "a link, not a file" if error.errno == 40 else f"cannot be read ({error.strerror})"
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None, "not a regular file"
        data = handle.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:
        return None, f"larger than the {MAX_NOTEBOOK_BYTES // 2**20} MB a notebook may be"
    return data, None


def place(course, student, lesson, data, placed, extra=None):
    """Write the notebook (and the timestamp) into submitted/<student>/<lesson>/, replacing what was there."""
    target = Path(course) / "submitted" / student / lesson
    target.mkdir(parents=True, exist_ok=True)
    for old in target.iterdir():
        if old.is_symlink() or old.is_file():
            old.unlink()
    for name, content in [(f"{lesson}.ipynb", data), *(extra or {}).items()]:
        tmp = target / f".{name}.tmp"
        tmp.write_bytes(content)
        os.replace(tmp, target / name)
    placed.append(f"{student}/{lesson}")


def owner_name(path):
    try:
        return pwd.getpwuid(os.lstat(path).st_uid).pw_name
    except KeyError:
        return f"uid {os.lstat(path).st_uid}"


def from_exchange(inbound, course, known, placed, refused, check_owner=True):
    """nbgrader's inbound folders: each student's latest submission of each lesson, from that student's own folders."""
    latest = {}
    for folder in sorted(inbound.iterdir()):
        parts = folder.name.split("+")
        if folder.is_symlink() or not folder.is_dir():
            refused.append((folder.name, "not a submission folder (a file or a link)"))
            continue
        if len(parts) < 3:
            refused.append((folder.name, "not an nbgrader submission folder (student+lesson+timestamp)"))
            continue
        student, lesson, stamp = parts[0], parts[1], parts[2]
        if not STUDENT_ID.match(student):
            refused.append((folder.name, f"{student!r} is not a valid student id"))
        elif lesson not in known:
            refused.append((folder.name, f"no lesson named {lesson!r}"))
        elif check_owner and owner_name(folder) != student:
            refused.append((folder.name, f"owned by {owner_name(folder)}, not by {student}: not {student}'s submission"))
        elif (student, lesson) not in latest or stamp > latest[student, lesson][0]:
            latest[student, lesson] = (stamp, folder)
    for (student, lesson), (stamp, folder) in sorted(latest.items()):
        data, why = read_regular(folder / f"{lesson}.ipynb")
        others = sorted(p.name for p in folder.iterdir() if p.name != f"{lesson}.ipynb")
        for name in others:
            refused.append((f"{folder.name}/{name}", f"only {lesson}.ipynb is graded"))
        if data is None:
            refused.append((f"{folder.name}/{lesson}.ipynb", why))
            continue
        place(course, student, lesson, data, placed, {"timestamp.txt": (stamp + "\n").encode()})


def from_flat(folder, course, known, placed, refused):
    """Files named <student>_<lesson>.ipynb, in any sub-folder (links are not followed)."""
    seen = {}
    for root, dirs, files in os.walk(folder):  # os.walk does not follow links to folders
        for name in sorted(files) + sorted(d for d in dirs if os.path.islink(os.path.join(root, d))):
            path = Path(root) / name
            rel = str(path.relative_to(folder))
            if name.startswith(".") or "__MACOSX" in path.parts:
                continue
            if path.suffix != ".ipynb":
                refused.append((rel, "not an .ipynb file"))
                continue
            lesson = next((lesson for lesson in known if path.stem.endswith("_" + lesson)), None)
            if lesson is None:
                refused.append((rel, f"the name does not end in _<lesson>.ipynb with a known lesson ({', '.join(known)})"))
                continue
            student = path.stem[: -len(lesson) - 1]
            if not STUDENT_ID.match(student):
                refused.append((rel, f"{student!r} is not a valid student id"))
            elif (student, lesson) in seen:
                refused.append((rel, f"a second file for {student}/{lesson}: kept {seen[student, lesson]}"))
            else:
                data, why = read_regular(path)
                if data is None:
                    refused.append((rel, why))
                    continue
                seen[student, lesson] = rel
                place(course, student, lesson, data, placed)


def unzip(source, into, refused):
    """Extract regular files only, never outside ``into``, none over the notebook limit."""
    with zipfile.ZipFile(source) as archive:
        for member in archive.infolist():
            parts = Path(member.filename).parts
            is_link = stat.S_ISLNK(member.external_attr >> 16)
            if member.is_dir():
                continue
            if ".." in parts or member.filename.startswith("/") or is_link:
                refused.append((member.filename, "a path outside the archive, or a link"))
                continue
            if member.file_size > MAX_NOTEBOOK_BYTES:
                refused.append((member.filename, f"larger than the {MAX_NOTEBOOK_BYTES // 2**20} MB a notebook may be"))
                continue
            with archive.open(member) as handle:
                data = handle.read(MAX_NOTEBOOK_BYTES + 1)
            target = Path(into) / member.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data[: MAX_NOTEBOOK_BYTES + 1])


def collect(source, course=ROOT, out=sys.stdout, check_owner=True):
    """Place every submission found in source; return (placed, refused)."""
    source, course = Path(source), Path(course)
    known = lessons(course)
    placed, refused = [], []
    with tempfile.TemporaryDirectory() as tmp:
        if source.is_file() and zipfile.is_zipfile(source):
            unzip(source, tmp, refused)
            source = Path(tmp)
        elif not source.is_dir():
            raise SystemExit(f"{source} is neither a folder nor a .zip file")
        inbound = next((p for p in [source, *source.glob("inbound"), *source.glob("*/inbound")]
                        if p.name == "inbound" and p.is_dir()), None)
        if inbound is not None:
            from_exchange(inbound, course, known, placed, refused, check_owner)
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
    parser.add_argument("--no-check-owner", action="store_true",
                        help="exchange only: accept folders whoever owns them (a copy of an exchange made elsewhere)")
    args = parser.parse_args(argv)
    collect(args.source, args.course, check_owner=not args.no_check_owner)


if __name__ == "__main__":
    main()

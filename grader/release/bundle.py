"""Build the student bundle: what a student needs to work through the course, and nothing of the instructors'.

Writes build/student-bundle.zip (byte-stable): notebooks/, data/, sparkcourse/ and the files
`make lab` needs. No solutions/, no grader/, no tests, no gradebook: hidden tests never leave.
"""

import argparse
import subprocess
import zipfile
from pathlib import Path

from ..course import ROOT

DEFAULT = ROOT / "build" / "student-bundle.zip"
INCLUDE = ["notebooks", "data", "sparkcourse", "Makefile", "pyproject.toml", "requirements.txt",
           "environment.yml", "README.md", ".gitignore"]


def bundle_files():
    """The tracked files of the bundle (git ls-files keeps caches and local state out)."""
    listed = subprocess.run(["git", "ls-files", "--", *INCLUDE], cwd=ROOT, capture_output=True, text=True, check=True)
    return sorted(listed.stdout.split())


def build(out):
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in bundle_files():
            info = zipfile.ZipInfo(f"spark-ml-course/{name}", date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o644 if not (ROOT / name).stat().st_mode & 0o111 else 0o755) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (ROOT / name).read_bytes())
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT)
    args = parser.parse_args(argv)
    print(f"wrote {build(args.out)} ({len(bundle_files())} files)")


if __name__ == "__main__":
    main()

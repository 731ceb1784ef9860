"""Is there a Java that Spark 4 can run on? Standard library only, so `make lab` can ask before installing.

Run as a script (python3 sparkcourse/java.py) it prints one sentence and exits 1 when there is not.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

MINIMUM = 17
INSTALL = ("install a JDK 17 (e.g. `sudo apt install openjdk-17-jdk`, `brew install openjdk@17` or "
           "`conda install -c conda-forge openjdk=17`) and open a new terminal")


def java_major_version():
    """The major version of the Java on JAVA_HOME or PATH, or None when there is none."""
    home = os.environ.get("JAVA_HOME")
    exe = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not exe or not Path(exe).exists():
        return None
    try:
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=30).stderr
    except OSError:
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major  # "1.8" means Java 8


def java_problem():
    """One sentence saying what to install, or None when Java is fine."""
    major = java_major_version()
    if major is None:
        return f"Spark needs Java {MINIMUM} or newer and no Java was found: {INSTALL}."
    if major < MINIMUM:
        return f"Spark needs Java {MINIMUM} or newer but the Java found is version {major}: {INSTALL}."
    return None


if __name__ == "__main__":
    problem = java_problem()
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(1)
    print(f"Java {java_major_version()} found.")

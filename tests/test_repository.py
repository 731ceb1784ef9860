"""Promises about the repository itself: one list of pins, clean notebooks, reproducible data, the two commands."""

import hashlib
import re
import subprocess
import sys

import nbformat
import pytest
import yaml

from grader.course import NOTEBOOKS, RECORDED_ANSWERS, ROOT, SOLUTIONS, lessons

pytestmark = pytest.mark.fast

GENERATORS = sorted((ROOT / "data").glob("generate_*.py"))


def pins(lines):
    return {line.strip() for line in lines if re.match(r"^[A-Za-z0-9_.\[\]-]+==", line.strip())}


def test_environment_yml_mirrors_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in conda and "openjdk=17" in conda
    assert pins(pip) == pins((ROOT / "requirements.txt").read_text().splitlines())


def test_every_requirement_is_pinned_and_pandas_is_2():
    lines = [x.strip() for x in (ROOT / "requirements.txt").read_text().splitlines()]
    lines = [x for x in lines if x and not x.startswith("#")]
    assert lines and set(lines) == pins(lines), "every requirement needs an exact == pin"
    assert any(x.startswith("pandas==2.") for x in lines), "PySpark 4.3 supports pandas 2.x only"
    assert "pyspark[connect]==4.3.0" in lines


def test_lessons_have_a_solution_a_student_version_a_self_check_file_and_recorded_answers():
    assert lessons(), "no lessons found in solutions/"
    for lesson in lessons():
        assert (NOTEBOOKS / lesson / f"{lesson}.ipynb").exists(), f"notebooks/{lesson} missing: make release"
        assert (RECORDED_ANSWERS / f"{lesson}.yml").exists(), f"grader/harness/answers/{lesson}.yml missing"
        assert (NOTEBOOKS / lesson / f"{lesson}.checks.json").exists(), f"notebooks/{lesson}: no self-check file"
    assert sorted(p.name for p in NOTEBOOKS.iterdir() if p.is_dir()) == lessons()


@pytest.mark.parametrize("folder", [SOLUTIONS, NOTEBOOKS], ids=["solutions", "notebooks"])
def test_committed_notebooks_carry_no_outputs(folder):
    for path in folder.glob("*/*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        dirty = [c.id for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert not dirty, f"{path.relative_to(ROOT)} has outputs in cells {dirty}"


HELDOUT = ROOT / "grader" / "heldout"


def recorded_checksums(folder=ROOT / "data"):
    path = folder / "SHA256SUMS"
    return dict(line.split()[::-1] for line in path.read_text().splitlines()) if path.exists() else {}


def test_data_matches_checksums_and_regenerates_identically(tmp_path):
    """Every generator, run into an empty folder, writes exactly the files SHA256SUMS lists, byte for byte."""
    recorded = recorded_checksums()
    for name, digest in recorded.items():
        assert hashlib.sha256((ROOT / "data" / name).read_bytes()).hexdigest() == digest, f"data/{name} changed"
    heldout = recorded_checksums(HELDOUT)
    for name, digest in heldout.items():
        assert hashlib.sha256((HELDOUT / name).read_bytes()).hexdigest() == digest, f"grader/heldout/{name} changed"
    (tmp_path / "data").mkdir()
    (tmp_path / "heldout").mkdir()
    for generator in GENERATORS:
        command = [sys.executable, str(generator), "--out", str(tmp_path / "data")]
        helps = subprocess.run([sys.executable, str(generator), "--help"], capture_output=True, text=True).stdout
        if "--heldout" in helps:  # a capstone's generator: its held-out labels go where only grading reads
            command += ["--heldout", str(tmp_path / "heldout")]
        subprocess.run(command, check=True, capture_output=True)
    for folder, listed in ((tmp_path / "data", recorded), (tmp_path / "heldout", heldout)):
        written = sorted(p.name for p in folder.iterdir())
        assert written == sorted(listed), f"the generators write {written} into {folder.name}, its SHA256SUMS lists {sorted(listed)}"
        for name, digest in listed.items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, f"{name} does not regenerate"


def documented(column, readme):
    """A column is documented by its name in backquotes, or, for member k's block of a wide file
    (`role_3`), by the block's row (`role_k`)."""
    numbered = re.fullmatch(r"(.+)_(\d+)", column)
    return f"`{column}`" in readme or bool(numbered and f"`{numbered[1]}_k`" in readme)


def test_every_data_column_is_documented():
    readme = (ROOT / "data" / "README.md").read_text()
    assert documented("role_12", "| `role_k` |") and not documented("role_12", "| `role` |")
    for name in recorded_checksums():
        if not name.endswith(".csv"):
            continue
        header = (ROOT / "data" / name).read_text().splitlines()[0].split(",")
        missing = [col for col in header if not documented(col, readme)]
        assert not missing, f"data/README.md does not document {missing} of {name}"


def test_make_help_lists_every_target_with_a_description():
    out = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    targets = re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M)
    for target in targets:
        assert re.search(rf"make {target}\s+\S", out), f"make help does not describe {target}"


def test_readme_gives_the_two_commands_first_and_ci_runs_the_same_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(make [a-z-]+)", readme, re.M)
    assert commands[:2] == ["make lab", "make test"], commands[:4]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_readme_layout_table_matches_the_tree():
    """Every top-level folder and every package of grader/ has its row in README's layout table, and every row exists."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `([^`]+)/` \|", section, re.M))
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    folders = {name.split("/")[0] for name in tracked if "/" in name and not name.startswith(".")}
    folders |= {"/".join(name.split("/")[:2]) for name in tracked
                if name.startswith("grader/") and name.count("/") >= 2 and not name.split("/")[1].startswith("__")}
    assert folders - rows == set(), f"folders without a row in README's layout table: {sorted(folders - rows)}"
    assert rows - folders == set(), f"rows in README's layout table for folders that do not exist: {sorted(rows - folders)}"

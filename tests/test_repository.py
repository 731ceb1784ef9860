"""Promises about the repository itself: one list of pins, clean notebooks, reproducible data, the two commands."""

import hashlib
import re
import subprocess
import sys

import nbformat
import pytest
import yaml

from grader import lesson_text
from grader.course import NOTEBOOKS, ROOT, SOLUTIONS, WRONG_ANSWERS, lessons

sys.path.insert(0, str(ROOT / "data"))
import generate_follows  # noqa: E402
import generate_grants  # noqa: E402

GENERATED = {  # file -> (generator, index of the frame it returns)
    "grants.csv": (generate_grants, 0), "grant_people.csv": (generate_grants, 1),
    "accounts.csv": (generate_follows, 0), "follows.csv": (generate_follows, 1),
}


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


def test_lessons_have_a_solution_student_version_and_wrong_answers():
    assert lessons(), "no lessons found in solutions/"
    for lesson in lessons():
        assert (NOTEBOOKS / lesson / f"{lesson}.ipynb").exists(), f"notebooks/{lesson} missing: make release"
        assert (WRONG_ANSWERS / f"{lesson}.yml").exists(), f"grader/wrong_answers/{lesson}.yml missing"
    assert sorted(p.name for p in NOTEBOOKS.iterdir() if p.is_dir()) == lessons()


@pytest.mark.parametrize("folder", [SOLUTIONS, NOTEBOOKS], ids=["solutions", "notebooks"])
def test_committed_notebooks_carry_no_outputs(folder):
    for path in folder.glob("*/*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        dirty = [c.id for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert not dirty, f"{path.relative_to(ROOT)} has outputs in cells {dirty}"


def test_release_is_byte_stable(tmp_path):
    """Two releases in a fresh course directory give the same bytes as the committed notebooks."""
    import shutil

    from grader.course import nbgrader, student_notebook

    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    shutil.copytree(SOLUTIONS, tmp_path / "solutions")
    for lesson in lessons():
        nbgrader("generate_assignment", lesson, "--force", cwd=tmp_path)
        first = student_notebook(lesson, tmp_path).read_bytes()
        nbgrader("generate_assignment", lesson, "--force", cwd=tmp_path)
        assert student_notebook(lesson, tmp_path).read_bytes() == first, f"{lesson}: a second release differs"
        assert first == student_notebook(lesson).read_bytes(), f"{lesson}: notebooks/ is stale, run make release"


def test_lesson_text_round_trips_every_solution():
    for lesson in lessons():
        path = SOLUTIONS / lesson / f"{lesson}.ipynb"
        again = lesson_text.to_notebook(lesson_text.to_script(nbformat.read(path, as_version=4)))
        assert nbformat.writes(again) + "\n" == path.read_text(), f"{lesson} does not round-trip"


def test_data_matches_checksums_and_regenerates_identically(tmp_path):
    recorded = dict(line.split()[::-1] for line in (ROOT / "data" / "SHA256SUMS").read_text().splitlines())
    for name, digest in recorded.items():
        assert hashlib.sha256((ROOT / "data" / name).read_bytes()).hexdigest() == digest, f"data/{name} changed"
    assert set(recorded) == set(GENERATED), "SHA256SUMS and the generators disagree on the data files"
    for name, (generator, index) in GENERATED.items():
        generator.generate()[index].to_csv(tmp_path / name, index=False)
    for name, digest in recorded.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest, f"{name} does not regenerate"


def test_every_data_column_is_documented():
    readme = (ROOT / "data" / "README.md").read_text()
    for name in GENERATED:
        header = (ROOT / "data" / name).read_text().splitlines()[0].split(",")
        missing = [col for col in header if f"`{col}`" not in readme]
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

"""The package as users get it: built, checked, installed into an empty venv, used from elsewhere.

Nothing from the checkout is on the path of the installed acbatch: the venv is new, the working
folder is a temporary one, and PYTHONPATH is cleared. .ci/run builds the distributions once and
passes the wheel in ACBATCH_TEST_WHEEL; otherwise the test builds them itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import acbatch

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path | None]:
    given = os.environ.get("ACBATCH_TEST_WHEEL")
    if given:
        return Path(given), None
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return next(out.glob("*.whl")), next(out.glob("*.tar.gz"))


@pytest.mark.slow
def test_the_distributions_carry_everything_a_user_needs(
    distributions: tuple[Path, Path | None],
) -> None:
    wheel, sdist = distributions
    assert wheel.name == f"acbatch-{acbatch.__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    for packaged in REPO.joinpath("acbatch").rglob("*"):
        if packaged.is_file() and "__pycache__" not in packaged.parts:
            assert packaged.relative_to(REPO).as_posix() in names, packaged
    for schema in REPO.joinpath("schemas").glob("*.json"):
        assert f"acbatch/schemas/{schema.name}" in names
    if sdist is not None:
        with tarfile.open(sdist) as archive:
            members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        assert {"pyproject.toml", "CHANGELOG.md", "README.md", "LICENSE"} <= members
        assert not any(name.startswith((".venv", ".git/")) for name in members)
        checked = subprocess.run(
            [str(BIN / "twine"), "check", "--strict", str(wheel), str(sdist)],
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_the_wheel_in_an_empty_venv_inits_and_runs_the_sandbox(
    tmp_path: Path, distributions: tuple[Path, Path | None]
) -> None:
    wheel, _ = distributions
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin"
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import acbatch; print(acbatch.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    acbatch_bin = str(venv / "bin" / "acbatch")
    version = subprocess.run([acbatch_bin, "--version"], env=env, capture_output=True, text=True)
    assert acbatch.__version__ in version.stdout
    work = tmp_path / "work"
    work.mkdir()
    for args, cwd in ((["init", "demo"], work), (["validate", "--sandbox"], work / "demo")):
        done = subprocess.run(
            [acbatch_bin, *args], cwd=cwd, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    workflow = (work / "demo" / ".github" / "workflows" / "podcast.yml").read_text()
    assert f'"acbatch=={acbatch.__version__}"' in workflow
    ran = subprocess.run(
        [acbatch_bin, "run", "--sandbox"],
        cwd=work / "demo",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert (work / "demo" / "sandbox" / "output" / "feed.xml").is_file()
    assert list((work / "demo" / "sandbox" / "output" / "episodes").rglob("*.mp3"))

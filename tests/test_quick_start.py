"""The README's Quick start, run verbatim in a fresh shell that has never heard of acbatch."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SET_UP = "python3 -m venv .venv && .venv/bin/pip install -q -e ."


def quick_start() -> tuple[list[str], str]:
    """The Quick start's shell lines, and its text around them."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the Quick start has a sh block"
    return match.group(1).splitlines(), section


def fresh_environment(tmp_path: Path) -> dict[str, str]:
    """What a new terminal has: system folders on PATH, a home, and a browser to record."""
    recorder = tmp_path / "browser.py"
    recorder.write_text(
        f"import sys\nopen({str(tmp_path / 'opened.txt')!r}, 'w').write(sys.argv[1])\n",
        encoding="utf-8",
    )
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "BROWSER": f"{sys.executable} {recorder} %s",
    }


@pytest.mark.parametrize("shell", ["bash", "sh", "zsh"])
@pytest.mark.slow
def test_the_quick_start_works_verbatim_in_a_fresh_shell(tmp_path: Path, shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    activate = Path(sys.prefix) / "bin" / "activate"
    if sys.prefix == sys.base_prefix or not activate.is_file():
        pytest.skip("the tests are not running from a virtual environment")
    lines, section = quick_start()
    # The first line installs acbatch into .venv (a minute, and the package index): it is the
    # set-up command that .ci/run runs. Here the test's own environment stands in for it.
    assert lines[0].startswith(SET_UP + "  ")
    folder = tmp_path / "acbatch"
    folder.mkdir()
    (folder / ".venv").symlink_to(Path(sys.prefix))
    env = fresh_environment(tmp_path)
    assert subprocess.run([shell, "-c", "command -v acbatch"], env=env).returncode != 0

    script = "set -e\n" + "\n".join(lines[1:]) + "\n"
    result = subprocess.run(
        [shell, "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    page = folder / "my-show" / "sandbox" / "output" / "index.html"
    assert page.is_file() and (folder / "my-show" / "sandbox" / "output" / "feed.xml").is_file()
    assert (tmp_path / "opened.txt").read_text() == page.resolve().as_uri()

    # The way without activating, as the Quick start spells it, from the acbatch folder.
    direct = re.search(r"`(\.venv/bin/acbatch [^`]+)`", section)
    assert direct, "the Quick start says how to run acbatch without activating"
    again = subprocess.run(
        [shell, "-c", direct.group(1)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 API requests" in again.stderr

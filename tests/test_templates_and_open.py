"""`acbatch templates list|copy` and `acbatch open`, through real processes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import acbatch
from acbatch.publish.template_files import BUILTIN_DIR, builtin_names
from acbatch.scaffold import scaffold_project
from tests.conftest import acbatch as acbatch_cli
from tests.conftest import text_episode, write_show


def test_list_names_every_builtin_template_and_the_overrides(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1)})
    listed = acbatch_cli("templates", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == builtin_names() and "feed.xml.j2" in names
    assert all(line.split()[1] == "built-in" for line in listed.stdout.splitlines())
    acbatch_cli("templates", "copy", "notes.md.j2", cwd=tmp_path)
    (tmp_path / "templates" / "feed.xml.j2").write_text("<rss/>\n")
    lines = {
        line.split()[0]: line
        for line in acbatch_cli("templates", "list", cwd=tmp_path).stdout.splitlines()
    }
    version = acbatch.__version__
    assert lines["notes.md.j2"].endswith(
        f"replaced by templates/notes.md.j2 (copied from acbatch {version}, not edited yet)"
    )
    assert lines["feed.xml.j2"].endswith("replaced by templates/feed.xml.j2")


def test_copy_writes_the_builtin_with_a_version_header_and_never_overwrites(
    tmp_path: Path,
) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1)})
    copied = acbatch_cli("templates", "copy", "notes.html", cwd=tmp_path)  # .j2 may be left off
    assert copied.returncode == 0, copied.stderr
    target = tmp_path / "templates" / "notes.html.j2"
    first, rest = target.read_text(encoding="utf-8").split("\n", 1)
    assert f"acbatch {acbatch.__version__}" in first and first.startswith("{#-")
    assert rest == (BUILTIN_DIR / "notes.html.j2").read_text(encoding="utf-8")

    target.write_text("my edits\n", encoding="utf-8")
    refused = acbatch_cli("templates", "copy", "notes.html.j2", cwd=tmp_path)
    assert refused.returncode == 1
    assert "templates/notes.html.j2 already exists; nothing was written" in refused.stderr
    assert target.read_text(encoding="utf-8") == "my edits\n"
    forced = acbatch_cli("templates", "copy", "--force", "notes.html.j2", cwd=tmp_path)
    assert forced.returncode == 0 and target.read_text(encoding="utf-8").endswith(rest)

    unknown = acbatch_cli("templates", "copy", "feed.xml.j2", "noets.html.j2", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "did you mean 'notes.html.j2'?" in unknown.stderr
    assert not (tmp_path / "templates" / "feed.xml.j2").exists()  # nothing half-done


@pytest.mark.slow
def test_unedited_copies_render_exactly_like_the_builtins(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1)})
    assert acbatch_cli("run", "--sandbox", cwd=tmp_path).returncode == 0
    output = tmp_path / "sandbox" / "output"
    before = {p: p.read_bytes() for p in output.rglob("*") if p.is_file()}
    copied = acbatch_cli("templates", "copy", *builtin_names(), cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    rendered = acbatch_cli("render", "--sandbox", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    assert {p: p.read_bytes() for p in output.rglob("*") if p.is_file()} == before
    page = tmp_path / "templates" / "index.html.j2"
    page.write_text(page.read_text().replace("</body>", "<p>made by hand</p></body>"))
    assert acbatch_cli("render", "--sandbox", cwd=tmp_path).returncode == 0
    assert "made by hand" in (output / "index.html").read_text(encoding="utf-8")


def test_the_scaffold_readme_names_the_commands(tmp_path: Path) -> None:
    scaffold_project(tmp_path)
    text = (tmp_path / "templates" / "README.md").read_text(encoding="utf-8")
    assert "acbatch templates list" in text and "acbatch templates copy" in text


@pytest.mark.slow
def test_open_uses_the_browser_in_the_environment(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1)})
    missing = acbatch_cli("open", "--sandbox", cwd=tmp_path)
    assert missing.returncode == 1 and "acbatch run --sandbox" in missing.stderr
    assert acbatch_cli("run", "--sandbox", cwd=tmp_path).returncode == 0
    record = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(
        f"import sys\nopen({str(record)!r}, 'w').write(sys.argv[1])\n", encoding="utf-8"
    )
    opened = acbatch_cli(
        "open", "--sandbox", cwd=tmp_path, env={"BROWSER": f"{sys.executable} {browser} %s"}
    )
    assert opened.returncode == 0, opened.stderr
    page = tmp_path / "sandbox" / "output" / "index.html"
    assert record.read_text() == page.resolve().as_uri()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a display-less Linux session")
def test_open_without_a_browser_prints_the_address(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1)})
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "index.html").write_text("<!DOCTYPE html><title>t</title>\n")
    result = acbatch_cli("open", cwd=tmp_path, drop=("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"))
    assert result.returncode == 0, result.stderr
    url = (tmp_path / "output" / "index.html").resolve().as_uri()
    assert result.stdout.strip() == f"No browser here; open output/index.html ({url}) in one."

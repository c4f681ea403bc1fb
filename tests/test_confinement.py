"""Everything acbatch reads or writes stays inside the project folder, symbolic links included:
`validate` names the file and line of every way out, and `run` refuses to start."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import acbatch, text_episode, write_show


def acbatch_in(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A closed local port: `doctor` must never reach a real service from the tests.
    env = {
        "AUDIOCLEANER_API_KEY": "sk-confined-5150",
        "AUDIOCLEANER_API_BASE": "http://127.0.0.1:9",
    }
    return acbatch("-C", str(root), *args, env=env, timeout=180)


def snapshot(folder: Path, project: Path) -> dict[str, tuple[int, int]]:
    """Every file outside the project: (size, mtime) by path."""
    return {
        str(path): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file() and not path.is_relative_to(project)
    }


@pytest.fixture
def show(tmp_path: Path) -> Path:
    root = tmp_path / "show"
    write_show(root, {"ep-1": text_episode(1)})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes((root / "cover.png").read_bytes())
    (outside / "credentials").write_text("token: SECRET-TOKEN-5150\n")
    (outside / "elsewhere.yaml").write_text(yaml.safe_dump(text_episode(7)))
    return root


def edit_config(root: Path, **sections: dict[str, object]) -> None:
    config = yaml.safe_load((root / "acbatch.yaml").read_text())
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    (root / "acbatch.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def refused_everywhere(root: Path, expected: list[str]) -> str:
    """validate and run both refuse; nothing outside the project changes; returns validate's."""
    before = snapshot(root.parent, root)
    checked = acbatch_in(root, "validate")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    report = checked.stdout + checked.stderr
    for text in expected:
        assert text in report, report
    ran = acbatch_in(root, "run", "--sandbox")
    assert ran.returncode != 0
    assert expected[0] in ran.stdout + ran.stderr, ran.stdout + ran.stderr
    doctor = acbatch_in(root, "doctor")  # checks folders are writable: only a valid project's
    for result in (checked, ran, doctor):
        assert "Traceback" not in result.stdout + result.stderr
    assert snapshot(root.parent, root) == before
    assert not (root.parent / "out").exists()
    return report


def test_a_spec_linked_to_a_system_file_is_refused_unread(show: Path) -> None:
    (show / "specs" / "evil.yaml").symlink_to("/etc/passwd")
    (show / "specs" / "token.yaml").symlink_to(show.parent / "outside" / "credentials")
    report = refused_everywhere(
        show, ["specs/evil.yaml:1:1", "symbolic link", "specs/token.yaml:1:1"]
    )
    assert "root:" not in report and "SECRET-TOKEN" not in report


def test_a_spec_linked_to_a_valid_spec_elsewhere_is_not_paid_for(show: Path) -> None:
    (show / "specs" / "other.yaml").symlink_to(show.parent / "outside" / "elsewhere.yaml")
    refused_everywhere(show, ["specs/other.yaml:1:1"])
    assert not (show / "state" / "other.json").exists()


@pytest.mark.parametrize(
    ("section", "values", "field"),
    [
        ("paths", {"output": "../out"}, "paths.output"),
        ("paths", {"state": "/tmp/acbatch-state-outside"}, "paths.state"),
        ("paths", {"specs": "../outside"}, "paths.specs"),
        ("paths", {"voices": "../outside/voices.json"}, "paths.voices"),
        ("show", {"image": "../outside/secret.png"}, "show.image"),
    ],
)
def test_settings_that_lead_outside_are_refused_with_file_and_line(
    show: Path, section: str, values: dict[str, object], field: str
) -> None:
    edit_config(show, **{section: values})
    report = refused_everywhere(show, [field, "outside the project folder"])
    assert re.search(rf"acbatch\.yaml:\d+:\d+: {re.escape(field)}: ", report), report
    assert not Path("/tmp/acbatch-state-outside").exists()


def test_a_folder_linked_outside_is_refused(show: Path) -> None:
    (show / "templates").symlink_to(show.parent / "outside")
    refused_everywhere(show, ["paths.templates", "through a symbolic link"])


def test_episode_artwork_outside_is_refused(show: Path) -> None:
    spec = text_episode(1)
    spec["publish"]["image"] = "../../outside/secret.png"  # type: ignore[index]
    (show / "specs" / "ep-1.yaml").write_text(yaml.safe_dump(spec))
    refused_everywhere(show, ["specs/ep-1.yaml:", "publish.image"])


def test_the_dangerous_opt_out_allows_outside_folders(show: Path) -> None:
    edit_config(show, paths={"output": "../out", "dangerously_allow_outside_project": True})
    checked = acbatch_in(show, "validate")
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    "link",
    ["specs/ep-1.script.yaml", "output/episodes", "state/ep-1.json", "templates/notes.md.j2"],
)
def test_links_inside_project_folders_that_lead_outside_are_refused(show: Path, link: str) -> None:
    target = show.parent / "outside" / "credentials"
    path = show / link
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target.parent if link == "output/episodes" else target)
    report = refused_everywhere(show, [link, "symbolic link leading outside"])
    assert "SECRET-TOKEN" not in report
    assert target.read_text() == "token: SECRET-TOKEN-5150\n"

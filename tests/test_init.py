"""`acbatch init`: the scaffold validates, points editors at the schemas, and never clobbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import acbatch
from acbatch.cli import cli
from acbatch.project.loader import load_project
from acbatch.project.schema import schema_path
from acbatch.sandbox.catalog import sandbox_catalog
from acbatch.scaffold import plan_scaffold

REPO = Path(__file__).resolve().parent.parent
SCHEMA_LINE = "# yaml-language-server: $schema="


def init(*args: str) -> object:
    return CliRunner().invoke(cli, ["init", *args], catch_exceptions=False)


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_init_then_validate_in_a_real_shell(tmp_path: Path) -> None:
    acbatch = [sys.executable, "-m", "acbatch"]
    created = subprocess.run(
        [*acbatch, "init", "demo"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert created.returncode == 0, created.stderr
    checked = subprocess.run(
        [*acbatch, "validate", "--sandbox"],
        cwd=tmp_path / "demo",
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "valid: " in checked.stderr
    assert "base_url: warning: 'http://localhost:8000/' is not public" in checked.stderr
    # For a live publish the scaffold's localhost base URL is refused until it is changed.
    live = subprocess.run(
        [*acbatch, "validate"], cwd=tmp_path / "demo", capture_output=True, text=True, check=False
    )
    assert live.returncode == 1
    assert "show.base_url: 'http://localhost:8000/' is not public (localhost)" in live.stderr


def test_scaffold_layout_and_content(tmp_path: Path) -> None:
    result = init(str(tmp_path / "demo"))
    assert result.exit_code == 0
    root = tmp_path / "demo"
    files = set(read_tree(root))
    assert {
        "acbatch.yaml",
        ".gitignore",
        "voices.json",
        "schemas/show.schema.json",
        "schemas/episode.schema.json",
        "templates/README.md",
    } <= files
    specs = sorted(f for f in files if f.startswith("specs/") and f.endswith(".yaml"))
    assert 2 <= len(specs) <= 3
    project = load_project(root / "acbatch.yaml")
    assert project.problems == []
    kinds = {e.source.kind for e in project.episodes}
    assert {"text", "file"} <= kinds
    markdown = [e for e in project.episodes if e.source.path and e.source.path.suffix == ".md"]
    assert markdown and markdown[0].source.path.is_relative_to(root.resolve() / "specs")


def test_every_yaml_file_points_at_a_schema_that_exists(tmp_path: Path) -> None:
    init(str(tmp_path / "demo"))
    root = tmp_path / "demo"
    yaml_files = sorted(root.rglob("*.yaml"))
    assert len(yaml_files) >= 3
    for path in yaml_files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(SCHEMA_LINE), path
        target = (path.parent / first[len(SCHEMA_LINE) :]).resolve()
        expected = "show" if path.name == "acbatch.yaml" else "episode"
        assert target == (root / "schemas" / f"{expected}.schema.json").resolve()


def test_schemas_and_voices_are_the_real_ones(tmp_path: Path) -> None:
    init(str(tmp_path / "demo"))
    root = tmp_path / "demo"
    for name in ("show", "episode"):
        assert (root / "schemas" / f"{name}.schema.json").read_bytes() == (
            schema_path(name).read_bytes()
        )
    voices = json.loads((root / "voices.json").read_text(encoding="utf-8"))
    assert voices == sandbox_catalog().to_document()
    assert (root / "voices.json").read_text().startswith('{\n  "code"')


def test_gitignore_and_templates_readme(tmp_path: Path) -> None:
    init(str(tmp_path / "demo"))
    root = tmp_path / "demo"
    ignored = (root / ".gitignore").read_text().splitlines()
    assert "output/" in ignored and "/sandbox/" in ignored
    readme = (root / "templates" / "README.md").read_text()
    builtin = sorted(p.name for p in (REPO / "acbatch" / "templates").glob("*") if p.is_file())
    for name in builtin:
        assert f"`{name}`" in readme
    assert "same name" in readme


def test_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    init(str(root))
    (root / "acbatch.yaml").write_text("# my edits\n")
    (root / "specs" / "welcome.yaml").unlink()
    before = read_tree(root)
    result = init(str(root))
    assert result.exit_code == 1
    assert "acbatch.yaml" in result.stderr and "--force" in result.stderr
    assert "Traceback" not in result.output
    assert read_tree(root) == before


def test_force_overwrites(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    init(str(root))
    (root / "acbatch.yaml").write_text("# my edits\n")
    assert init(str(root), "--force").exit_code == 0
    assert (root / "acbatch.yaml").read_text().startswith(SCHEMA_LINE)


def test_init_into_a_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    result = CliRunner().invoke(cli, ["-C", str(tmp_path), "init"], catch_exceptions=False)
    assert result.exit_code == 0
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
    assert (tmp_path / "acbatch.yaml").is_file()


def test_init_onto_a_file_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("x")
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_scaffold_has_the_repository_example_layout() -> None:
    planned = {str(item.relative).split("/")[0] for item in plan_scaffold()}
    assert planned == {
        "acbatch.yaml",
        ".gitignore",
        "voices.json",
        "schemas",
        "specs",
        "templates",
        "cover.png",
        ".github",
    }
    # The repository root is the same example show, except for the publishing workflow, which
    # ships inside the package (acbatch/workflows/) so that it never runs for acbatch itself.
    for name in planned - {".github"}:
        assert (REPO / name).exists(), name
    assert {p.name for p in (REPO / "specs" / "sources").iterdir()} >= {"tidy-data.md"}


@pytest.mark.parametrize("path", sorted((REPO / "specs").glob("*.yaml")), ids=lambda p: p.name)
def test_repository_example_specs_point_at_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == f"{SCHEMA_LINE}../schemas/episode.schema.json"


def test_scaffold_ships_the_publishing_workflow_and_artwork(tmp_path: Path) -> None:
    from acbatch.scaffold import scaffold_project

    scaffold_project(tmp_path / "demo")
    workflow = tmp_path / "demo" / ".github" / "workflows" / "podcast.yml"
    shipped = (REPO / "acbatch" / "workflows" / "podcast.yml").read_text()
    assert workflow.read_text() == shipped.replace("@ACBATCH_VERSION@", acbatch.__version__)
    assert f'ACBATCH_SPEC: "acbatch=={acbatch.__version__}"' in workflow.read_text()
    cover = (tmp_path / "demo" / "cover.png").read_bytes()
    assert cover.startswith(b"\x89PNG") and int.from_bytes(cover[16:20], "big") == 1400


def test_repository_config_points_at_the_schema() -> None:
    first = (REPO / "acbatch.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == f"{SCHEMA_LINE}./schemas/show.schema.json"
    assert os.path.exists(REPO / "schemas" / "show.schema.json")

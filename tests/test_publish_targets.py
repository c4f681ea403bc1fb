"""Publishing targets: artwork Apple accepts and a base URL directories can reach, at validate."""

from __future__ import annotations

import dataclasses
import io
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from PIL import Image

from acbatch.cli import cli
from acbatch.publish.artwork import artwork_findings, artwork_url_finding
from acbatch.publish.errors import ArtworkError
from acbatch.publish.render import render_show
from acbatch.publish.targets import check_base_url, non_public_reason
from tests.conftest import text_episode, write_show
from tests.samples import sample_config, sample_episode

NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


def image_bytes(size: tuple[int, int], mode: str = "RGB", kind: str = "PNG") -> bytes:
    colour = {"RGB": (20, 90, 140), "CMYK": (10, 20, 30, 40), "L": 128, "RGBA": (1, 2, 3, 4)}
    out = io.BytesIO()
    Image.new(mode, size, colour[mode]).save(out, format=kind)
    return out.getvalue()


def validate(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(root), "validate", *args], catch_exceptions=False)


def show_with(tmp_path: Path, **show: object) -> Path:
    config = write_show(tmp_path / "show", {"ep-1": text_episode(1)})
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["show"].update(show)
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config.parent


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("small.png", image_bytes((200, 200)), "is 200x200 px; Apple requires 1400 to 3000 px"),
        ("huge.png", image_bytes((3200, 3200)), "is 3200x3200 px"),
        ("wide.png", image_bytes((1600, 1400)), "is 1600x1400 px; it must be square"),
        ("cmyk.jpg", image_bytes((1400, 1400), "CMYK", "JPEG"), "is CMYK; Apple requires RGB"),
        ("grey.png", image_bytes((1400, 1400), "L"), "is greyscale; Apple requires the RGB"),
        ("cover.jpg", image_bytes((1400, 1400)), "is a PNG image but its name says JPEG"),
        ("cover.gif", b"GIF89a" + bytes(40), "is not a JPEG or PNG image"),
    ],
)
def test_artwork_apple_refuses_fails_validate_for_any_target(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    root = show_with(tmp_path, image=name)
    (root / name).write_bytes(data)
    for target in ("--live", "--sandbox"):
        result = validate(root, target)
        assert result.exit_code == 1, result.output
        assert f"show.image: '{name}' " in result.output
        assert expected.split("Apple requires")[0] in result.output


def test_good_artwork_passes_and_transparency_is_a_warning(tmp_path: Path) -> None:
    assert artwork_findings(image_bytes((1400, 1400)), "cover.png") == []
    assert artwork_findings(image_bytes((3000, 3000), kind="JPEG"), "cover.jpeg") == []
    (finding,) = artwork_findings(image_bytes((1400, 1400), "RGBA"), "cover.png")
    assert finding.severity == "warning" and "transparency" in finding.message
    root = show_with(tmp_path, image="cover.png")
    (root / "cover.png").write_bytes(image_bytes((1400, 1400), "RGBA"))
    result = validate(root)
    assert result.exit_code == 0, result.output
    assert "show.image: warning: 'cover.png' has transparency" in result.output


def test_artwork_urls_must_name_a_jpeg_or_png(tmp_path: Path) -> None:
    assert artwork_url_finding("https://cdn.example.com/art/cover.PNG?v=3") is None
    assert artwork_url_finding("https://cdn.example.com/art/cover.webp") is not None
    root = show_with(tmp_path, image="https://cdn.example.com/art/cover.webp")
    result = validate(root)
    assert result.exit_code == 1
    assert "does not name a JPEG or PNG file" in result.output


def test_episode_artwork_is_checked_in_its_spec(tmp_path: Path) -> None:
    config = write_show(
        tmp_path / "show",
        {"ep-1": text_episode(1, publish={"date": "2026-01-01", "image": "art/ep-1.png"})},
    )
    art = config.parent / "output" / "art"
    art.mkdir(parents=True)
    (art / "ep-1.png").write_bytes(image_bytes((200, 200)))
    result = validate(config.parent)
    assert result.exit_code == 1
    assert "ep-1.yaml:" in result.output
    assert "publish.image: 'art/ep-1.png' is 200x200 px" in result.output
    (art / "ep-1.png").write_bytes(image_bytes((1400, 1400)))
    assert validate(config.parent).exit_code == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://localhost:8000/", "localhost"),
        ("http://127.0.0.1/show/", "a loopback address"),
        ("http://[::1]:8080/", "a loopback address"),
        ("http://10.1.2.3/", "a private network address"),
        ("https://192.168.0.20/podcast/", "a private network address"),
        ("http://172.16.5.4/", "a private network address"),
        ("http://169.254.1.1/", "a private network address"),
        ("http://podcast-server/", "a host name without a dot"),
        ("http://nas.local/feed/", "a .local name, which only resolves on a local network"),
        ("https://show.test/", "a .test name, which only resolves on a local network"),
        ("http://0.0.0.0/", "a private network address"),
    ],
)
def test_non_public_base_urls(url: str, reason: str) -> None:
    assert non_public_reason(url) == reason
    (live,) = check_base_url(url, live=True)
    assert live.severity == "error"
    (sandbox,) = check_base_url(url, live=False)
    assert sandbox.severity == "warning"


@pytest.mark.parametrize(
    "url",
    ["https://podcast.example.com/", "https://user.github.io/show/", "http://93.184.216.34/"],
)
def test_public_base_urls(url: str) -> None:
    assert non_public_reason(url) is None
    assert check_base_url(url, live=True) == []


def test_localhost_base_url_fails_validate_only_for_a_live_publish(tmp_path: Path) -> None:
    root = show_with(tmp_path, base_url="http://localhost:8000/")
    live = validate(root)
    assert live.exit_code == 1
    line = next(x for x in live.output.splitlines() if "base_url" in x)
    assert line.startswith(f"{root / 'acbatch.yaml'}:11:13: ")
    assert "show.base_url: 'http://localhost:8000/' is not public (localhost)" in line
    sandbox = validate(root, "--sandbox")
    assert sandbox.exit_code == 0, sandbox.output
    assert "show.base_url: warning: 'http://localhost:8000/' is not public" in sandbox.output


def test_render_refuses_artwork_apple_refuses(tmp_path: Path) -> None:
    config = sample_config(tmp_path / "show")
    episodes = [sample_episode(config, "one")]
    (config.paths.root / "cover.png").write_bytes(image_bytes((200, 200)))
    with pytest.raises(ArtworkError, match=r"cover.png' is 200x200 px; Apple requires 1400"):
        render_show(config, episodes, now=NOW)
    (config.paths.root / "cover.png").write_bytes(image_bytes((1400, 1400), "CMYK", "JPEG"))
    with pytest.raises(ArtworkError, match="is a JPEG image but its name says PNG"):
        render_show(config, episodes, now=NOW)
    remote = dataclasses.replace(
        config, show=dataclasses.replace(config.show, image="https://cdn.example.com/a.webp")
    )
    with pytest.raises(ArtworkError, match="does not name a JPEG or PNG file"):
        render_show(remote, episodes, now=NOW)


def test_render_command_refuses_a_local_base_url_unless_sandbox(tmp_path: Path) -> None:
    root = show_with(tmp_path, base_url="http://localhost:8000/")
    live = CliRunner().invoke(cli, ["-C", str(root), "render"])
    assert live.exit_code == 1
    assert "cannot publish (for a sandbox run, use --sandbox):" in live.output
    assert "acbatch.yaml:11:13: show.base_url: 'http://localhost:8000/' is not public" in (
        live.output
    )
    assert not (root / "output" / "feed.xml").exists()
    sandbox = CliRunner().invoke(cli, ["-C", str(root), "render", "--sandbox"])
    assert sandbox.exit_code == 0, sandbox.output
    assert "show.base_url: warning: 'http://localhost:8000/' is not public" in sandbox.output
    assert (root / "sandbox" / "output" / "feed.xml").is_file()


def test_scaffold_cover_is_a_readable_placeholder_apple_accepts() -> None:
    from acbatch.scaffold import placeholder_cover

    cover = placeholder_cover("Small Wonders")
    assert artwork_findings(cover, "cover.png") == []
    with Image.open(io.BytesIO(cover)) as image:
        assert image.size == (1400, 1400) and image.mode == "RGB"
        colours = image.getcolors(maxcolors=1 << 16)
    # Lettering, not a flat colour: the background, the text colour and the anti-aliasing.
    assert colours is not None and len(colours) > 20
    assert placeholder_cover("Another Show") != cover


def test_the_scaffold_publishes_for_the_sandbox_and_not_live_until_its_url_is_public(
    tmp_path: Path,
) -> None:
    """init, a sandbox run, then feed check: the placeholder cover passes, the localhost feed
    is fine for a preview and one clear error for the directories."""
    from acbatch.scaffold import scaffold_project

    root = tmp_path / "show"
    scaffold_project(root)
    ran = CliRunner().invoke(cli, ["-C", str(root), "run", "--sandbox"], catch_exceptions=False)
    assert ran.exit_code == 0, ran.output
    feed = root / "sandbox" / "output" / "feed.xml"
    preview = CliRunner().invoke(cli, ["feed", "check", str(feed), "--sandbox", "--json"])
    assert preview.exit_code == 0, preview.output
    live = CliRunner().invoke(cli, ["feed", "check", str(feed), "--json"])
    assert live.exit_code == 1
    report = yaml.safe_load(live.stdout)
    (error,) = [p for p in report["problems"] if p["severity"] == "error"]
    assert error["where"] == "channel/atom:link"
    assert "'http://localhost:8000/feed.xml' is not public (localhost)" in error["message"]
    assert not any("cover.png'" in p["message"] for p in report["problems"])

"""Local source extraction from every supported format, and clear errors for bad files."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from acbatch.sources import SourceError, extract_text, html_to_text, markdown_to_text


def minimal_pdf(lines: list[str]) -> bytes:
    """A valid one-page PDF with Helvetica text, written by hand (offsets computed)."""
    stream_lines = ["BT", "/F1 14 Tf", "72 720 Td", "18 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream_lines.append(f"({escaped}) Tj T*")
    stream_lines.append("ET")
    stream = "\n".join(stream_lines).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def test_plain_text_utf8_with_bom_and_windows_line_ends(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "\ufeffCaf\u00e9 culture.\r\n\r\n\r\nSecond   paragraph.\r\n")
    assert extract_text(path) == "Caf\u00e9 culture.\n\nSecond paragraph."


def test_plain_text_in_utf16_and_windows_1252(tmp_path: Path) -> None:
    assert extract_text(write(tmp_path, "u.txt", "Stra\u00dfe".encode("utf-16"))) == "Stra\u00dfe"
    legacy = write(tmp_path, "w.txt", "\u201cQuoted\u201d caf\u00e9".encode("cp1252"))
    assert extract_text(legacy) == "\u201cQuoted\u201d caf\u00e9"


def test_binary_and_undecodable_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="binary"):
        extract_text(write(tmp_path, "b.txt", b"\x00\x01\x02text"))
    with pytest.raises(SourceError, match="UTF-8"):
        extract_text(write(tmp_path, "c.txt", b"bad \x81\x8d\x90 bytes"))


def test_markdown_is_stripped_to_readable_text(tmp_path: Path) -> None:
    markdown = (
        "---\ntitle: ignored\n---\n"
        "# Urban *Bees*\n\n"
        "Some **bold** and _italic_ text, a [link](https://x.example) and `code` in file_name.\n\n"
        "- first item\n- second item\n\n"
        "> A quote.\n\n"
        "```python\nprint('not read aloud')\n```\n\n"
        "![diagram](img.png)\n\n"
        "| a | b |\n|---|---|\n| c | d |\n\n"
        "[ref]: https://x.example\n"
    )
    text = extract_text(write(tmp_path, "notes.md", markdown))
    assert text.startswith("Urban Bees\n\n")
    assert "Some bold and italic text, a link and code in file_name." in text
    assert "first item\nsecond item" in text
    assert "A quote." in text and "diagram" in text and "c d" in text
    for leftover in ("**", "](", "```", "print(", "# ", "---", "https://", "> "):
        assert leftover not in text
    assert markdown_to_text("Plain line.") == "Plain line."


def test_html_to_text_keeps_content_and_drops_chrome() -> None:
    page = (
        "<!doctype html><html><head><title> Bees &amp; Cities </title>"
        "<style>p {color: red}</style><script>var x = '<p>no</p>';</script></head>"
        "<body><nav><a href='/'>Home</a></nav><header>Site banner</header>"
        "<h1>Urban bees</h1><p>City bees make&nbsp;honey.<br>Line two.</p>"
        "<div hidden>secret</div><p style='display: none'>invisible</p>"
        "<ul><li>One</li><li>Two</li></ul><footer>Copyright</footer></body></html>"
    )
    title, text = html_to_text(page)
    assert title == "Bees & Cities"
    assert text == "Urban bees\n\nCity bees make honey.\nLine two.\n\nOne\nTwo"


def test_html_prefers_main_content_and_falls_back_to_h1_title() -> None:
    title, text = html_to_text(
        "<body><aside>Ads</aside><h1>Headline</h1><p>Teaser</p>"
        "<article><p>The real story.</p></article></body>"
    )
    assert title == "Headline"
    assert text == "The real story."
    assert html_to_text("") == (None, "")


def test_html_file_includes_the_page_title(tmp_path: Path) -> None:
    path = write(tmp_path, "page.htm", "<title>Page</title><p>Body text here.</p>")
    assert extract_text(path) == "Page\n\nBody text here."


def test_pdf_text_is_extracted(tmp_path: Path) -> None:
    path = write(tmp_path, "a.pdf", minimal_pdf(["Bees make honey in the city", "(really)."]))
    text = extract_text(path)
    assert "Bees make honey in the city" in text
    assert "(really)." in text


def test_encrypted_pdf_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(minimal_pdf(["Secret text"]))))
    writer.encrypt(user_password="open-sesame", owner_password="owner", algorithm="RC4-128")
    locked = io.BytesIO()
    writer.write(locked)
    with pytest.raises(SourceError, match="password-protected"):
        extract_text(write(tmp_path, "locked.pdf", locked.getvalue()))


def test_pdf_without_text_or_damaged_is_refused(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    blank = io.BytesIO()
    writer.write(blank)
    with pytest.raises(SourceError, match="no extractable text"):
        extract_text(write(tmp_path, "blank.pdf", blank.getvalue()))
    with pytest.raises(SourceError, match="not a readable PDF"):
        extract_text(write(tmp_path, "broken.pdf", b"%PDF-1.4\nthis is not a pdf at all"))


def test_docx_paragraphs_and_tables_are_extracted(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Urban Bees", level=1)
    document.add_paragraph("City bees often make more honey.")
    document.add_paragraph("")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Hives"
    table.rows[0].cells[1].text = "1200"
    path = tmp_path / "report.docx"
    document.save(str(path))
    assert extract_text(path) == "Urban Bees\n\nCity bees often make more honey.\n\nHives | 1200"


def test_damaged_docx_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"broken\.docx: not a readable Word"):
        extract_text(write(tmp_path, "broken.docx", b"PK\x03\x04 not really a zip"))


def test_missing_unsupported_empty_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="file not found"):
        extract_text(tmp_path / "missing.txt")
    with pytest.raises(SourceError, match=r"unsupported file type '\.png'"):
        extract_text(write(tmp_path, "image.png", b"\x89PNG"))
    with pytest.raises(SourceError, match="no readable text"):
        extract_text(write(tmp_path, "empty.md", "   \n\n```\ncode only\n```\n"))
    big = write(tmp_path, "big.txt", "word " * 400)
    with pytest.raises(SourceError, match=r"over the 1\.0 KB source limit"):
        extract_text(big, max_bytes=1000)
    assert extract_text(big, max_bytes=10_000).startswith("word word")


def test_errors_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.txt", "")
    with pytest.raises(SourceError) as caught:
        extract_text(path)
    assert str(caught.value).startswith(str(path))


# -- bounds: checked from metadata and zip directories, before anything is read ------------------


def _zip_bomb(path: Path, megabytes: int = 300) -> Path:
    """A .docx whose document.xml inflates to `megabytes` MB (a few hundred KB on disk)."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"<w:t>" + b"a" * (1 << 20) + b"</w:t>"
            for _ in range(megabytes):
                member.write(block)
    return path


@pytest.mark.parametrize("kind", ["sparse-3GB-text", "docx-zip-bomb"])
def test_huge_sources_are_refused_by_validate_fast_and_small(tmp_path: Path, kind: str) -> None:
    import sys

    from tests.conftest import text_episode, write_show
    from tests.test_bounds import run_measured

    root = tmp_path / "show"
    spec = text_episode(1)
    if kind == "sparse-3GB-text":
        source = root / "specs" / "huge.txt"
        write_show(root, {})
        with source.open("wb") as handle:
            handle.truncate(3 * 1024**3)
        expected = "over the 50.0 MB source limit"
    else:
        write_show(root, {})
        source = _zip_bomb(root / "specs" / "bomb.docx")
        expected = "zip bomb"
    spec["source"] = {"file": source.name}
    import yaml

    (root / "specs" / "ep-1.yaml").write_text(yaml.safe_dump(spec))
    code, output, elapsed, peak_mb = run_measured(
        [sys.executable, "-m", "acbatch", "-C", str(root), "validate"]
    )
    assert code == 1, output
    assert "specs/ep-1.yaml:" in output and "source.file" in output and expected in output
    assert "Traceback" not in output
    assert elapsed < 2.0, elapsed
    assert peak_mb < 100, peak_mb


def test_a_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    path = _zip_bomb(tmp_path / "bomb.docx", megabytes=250)
    with pytest.raises(SourceError, match=r"unpacks to 250\.0 MB"):
        extract_text(path)


def test_the_source_limit_applies_to_the_extracted_text(tmp_path: Path) -> None:
    path = write(tmp_path, "long.md", "# Title\n\n" + "word " * 3000)
    with pytest.raises(SourceError, match="over the 10,000-character source limit"):
        extract_text(path, max_chars=10_000)
    assert extract_text(path, max_chars=20_000).startswith("Title")


def test_large_files_are_fingerprinted_in_a_stream(tmp_path: Path) -> None:
    import hashlib

    from acbatch.sources import HASH_CHUNK, file_fingerprint

    data = bytes(range(256)) * (3 * HASH_CHUNK // 256 + 7)
    path = tmp_path / "big.txt"
    path.write_bytes(data)
    assert file_fingerprint(path) == hashlib.sha256(data).hexdigest()


BLOG_PAGE = """<!doctype html><html lang="en"><head><title>Octopus minds | The Blog</title></head>
<body><div class="cookie-banner">We use cookies to improve your experience. Accept all cookies or
manage your settings in the privacy centre.</div>
<div class="menu"><a href="/">Home</a> <a href="/about">About</a> <a href="/archive">Archive</a>
<a href="/contact">Contact</a> <a href="/shop">Shop</a></div>
<div class="content"><div class="post"><h1>Octopus minds</h1>
<p>Octopuses solve puzzles, open jars and recognise individual people. Their nervous system is
spread through their arms, which can taste and decide on their own.</p>
<p>Researchers think this distributed intelligence evolved separately from ours, which makes the
octopus the closest thing to an alien mind we can study on Earth.</p></div>
<div class="share">Share on Twitter Share on Facebook Share by email Copy the link</div>
<div class="comments"><h3>3 comments</h3><div class="comment">Great post! Loved every word of
it. - Ann</div><div class="comment">First! Subscribe to my channel for more. - Bob</div></div>
</div><div class="footer">Copyright 2024 The Blog. All rights reserved. Privacy policy. Terms of
use. Sitemap. Newsletter sign-up.</div></body></html>"""


def test_html_keeps_the_article_and_drops_a_div_based_pages_boilerplate() -> None:
    from acbatch.sources import html_language

    title, text = html_to_text(BLOG_PAGE)
    assert title == "Octopus minds | The Blog"
    assert "Octopuses solve puzzles" in text and "alien mind" in text
    for boilerplate in ("cookies", "Archive", "Share on", "Loved every", "Copyright", "Sitemap"):
        assert boilerplate not in text, boilerplate
    assert len(text.split()) < 70
    assert html_language(BLOG_PAGE) == "en"


def test_html_falls_back_when_the_extractor_finds_nothing() -> None:
    _title, text = html_to_text("<ul><li>One</li><li>Two</li></ul>")
    assert text == "One\nTwo"


def test_source_limits_come_from_acbatch_yaml(tmp_path: Path) -> None:
    import yaml

    from acbatch.project.loader import load_project
    from acbatch.runner.bodies import script_request
    from tests.conftest import text_episode, write_show

    spec = text_episode(1)
    spec["source"] = {"file": "notes.md"}
    config = write_show(tmp_path, {"ep-1": spec}, api={"max_source_chars": 1000})
    write(tmp_path / "specs", "notes.md", "# Notes\n\n" + "word " * 400)
    project = load_project(config)
    assert not project.errors
    with pytest.raises(SourceError, match="over the 1,000-character source limit"):
        script_request(project.episodes[0])
    data = yaml.safe_load(config.read_text())
    data["api"]["max_source_bytes"] = 1024
    config.write_text(yaml.safe_dump(data))
    problems = load_project(config).errors
    assert [p.field for p in problems] == ["source.file"]
    assert "over the 1.0 KB source limit" in problems[0].message


def test_a_pdf_stops_being_read_once_its_text_passes_the_limit(tmp_path: Path) -> None:
    writer = PdfWriter()
    for _ in range(30):
        writer.append(PdfReader(io.BytesIO(minimal_pdf(["Many words on a page " * 3] * 20))))
    path = tmp_path / "long.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(SourceError, match="over the 2,000-character source limit"):
        extract_text(path, max_chars=2000)


def test_a_word_file_whose_xml_unpacks_past_the_file_limit_is_refused(tmp_path: Path) -> None:
    path = _zip_bomb(tmp_path / "dense.docx", megabytes=60)
    with pytest.raises(SourceError, match=r"its XML unpacks to 60\.0 MB"):
        extract_text(path)


def test_a_huge_page_skips_the_article_extractor_and_stays_linear() -> None:
    import time

    from acbatch.sources import MAX_ARTICLE_HTML_CHARS

    body = BLOG_PAGE.split("<body>")[1].split("</body>")[0]
    page = "<html><body>" + body * (MAX_ARTICLE_HTML_CHARS // len(body) + 1) + "</body></html>"
    started = time.monotonic()
    _title, text = html_to_text(page)
    assert time.monotonic() - started < 5.0
    assert "Octopuses solve puzzles" in text

"""Local source extraction: readable text from .txt, Markdown, HTML, PDF and Word files.

A spec's `file` source is extracted here and sent to the API as plain text; the sandbox uses
`html_to_text` for the web pages it fetches.

Sources are bounded before anything is read: the file's size comes from its metadata, a Word
file's members are measured from the zip directory before any is inflated, and the extracted
text has its own limit, because that text is what the paid script step receives.
`check_source_file` runs the cheap checks, so `validate` refuses what `run` would.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zipfile
from html.parser import HTMLParser
from pathlib import Path

from acbatch.constants import SOURCE_SUFFIXES, SOURCE_SUFFIXES_BY_FORMAT
from acbatch.project.schema import SHOW, field_default

MAX_SOURCE_BYTES: int = field_default(SHOW, "api", "max_source_bytes")
"""Larger files are refused: far beyond what one episode can use, and slow to parse."""
MAX_SOURCE_CHARS: int = field_default(SHOW, "api", "max_source_chars")
"""Longest extracted text sent to the script step (about 150,000 words, a long book)."""
UNZIP_FACTOR = 4
"""A Word file's parts may unpack to this many times the file limit (checked before unpacking)."""
MAX_ZIP_MEMBERS = 10_000
HASH_CHUNK = 1 << 20

MARKDOWN_SUFFIXES = SOURCE_SUFFIXES_BY_FORMAT["markdown"]
HTML_SUFFIXES = SOURCE_SUFFIXES_BY_FORMAT["html"]
PDF_SUFFIXES = SOURCE_SUFFIXES_BY_FORMAT["pdf"]
DOCX_SUFFIXES = SOURCE_SUFFIXES_BY_FORMAT["docx"]


class SourceError(Exception):
    """A source file that cannot be turned into text; the message names the file and why."""

    def __init__(self, message: str) -> None:
        from acbatch.redact import redact

        # File names come from specs, which a pull request may write: no terminal controls or
        # bidi overrides reach the terminal through them.
        super().__init__(redact(message))


def check_source_file(path: Path, *, max_bytes: int = MAX_SOURCE_BYTES) -> None:
    """The checks that need no reading: type, size from metadata, a Word file's zip directory.

    Raises SourceError; fast for any file (a sparse 3 GB file is refused from its size alone).
    """
    suffix = path.suffix.lower()
    if suffix not in SOURCE_SUFFIXES:
        supported = ", ".join(SOURCE_SUFFIXES)
        raise SourceError(f"{path}: unsupported file type '{suffix or path.name}' ({supported})")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise SourceError(f"{path}: file not found") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if not path.is_file():
        raise SourceError(f"{path}: not a regular file")
    if size > max_bytes:
        raise SourceError(
            f"{path}: file is {_megabytes(size)}, over the {_megabytes(max_bytes)} source limit"
        )
    if suffix in DOCX_SUFFIXES:
        _check_zip(path, UNZIP_FACTOR * max_bytes, max_bytes)


def _check_zip(path: Path, max_unzipped: int, max_xml: int) -> None:
    """Refuse a zip bomb from its directory alone: member count and declared sizes, all
    together (`max_unzipped`, images included) and of the XML that gets parsed (`max_xml`).

    zipfile stops a member at its declared size (and checks its CRC), so the declared sizes
    bound what inflating can produce.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SourceError(f"{path}: not a readable Word .docx file ({exc})") from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise SourceError(f"{path}: a Word file with {len(members)} parts is not a document")
    inflated = sum(member.file_size for member in members)
    if inflated > max_unzipped:
        raise SourceError(
            f"{path}: unpacks to {_megabytes(inflated)}, over the "
            f"{_megabytes(max_unzipped)} limit for a Word file (a zip bomb?)"
        )
    xml = sum(m.file_size for m in members if m.filename.lower().endswith((".xml", ".rels")))
    if xml > max_xml:
        raise SourceError(
            f"{path}: its XML unpacks to {_megabytes(xml)}, over the {_megabytes(max_xml)} "
            "limit for a Word file's text (a zip bomb?)"
        )


def file_fingerprint(path: Path) -> str:
    """SHA-256 of a file, read in chunks: memory stays flat whatever the file's size."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def extract_text(
    path: Path, *, max_bytes: int = MAX_SOURCE_BYTES, max_chars: int = MAX_SOURCE_CHARS
) -> str:
    """Readable plain text of a source file, paragraphs separated by blank lines."""
    check_source_file(path, max_bytes=max_bytes)
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        text = _pdf_text(path, max_chars)
    elif suffix in DOCX_SUFFIXES:
        text = _docx_text(path)
    else:
        raw = _decode(path, _read_bytes(path, max_bytes))
        if suffix in MARKDOWN_SUFFIXES:
            text = markdown_to_text(raw)
        elif suffix in HTML_SUFFIXES:
            title, body = html_to_text(raw)
            text = body if not title or body.startswith(title) else f"{title}\n\n{body}"
        else:
            text = raw
    if len(text) > 2 * max_chars:  # tidying only shrinks text: no need to tidy a giant
        raise SourceError(_too_long(path, len(text), max_chars))
    text = _tidy(text)
    if not text:
        raise SourceError(f"{path}: contains no readable text")
    if len(text) > max_chars:
        raise SourceError(_too_long(path, len(text), max_chars))
    return text


def _too_long(path: Path, length: int, limit: int) -> str:
    return (
        f"{path}: the extracted text has {length:,} characters, over the {limit:,}-character "
        "source limit; split the source into several episodes"
    )


def _megabytes(size: int) -> str:
    if size < 1048576:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1048576:.1f} MB"


def _read_bytes(path: Path, max_bytes: int = MAX_SOURCE_BYTES) -> bytes:
    """The file's bytes, never more than `max_bytes` (it may have grown since it was checked)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise SourceError(f"{path}: file is over the {_megabytes(max_bytes)} source limit")
    return data


def _decode(path: Path, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise SourceError(f"{path}: damaged UTF-16 text") from None
    if b"\x00" in data[:8192]:
        raise SourceError(f"{path}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise SourceError(
            f"{path}: text is neither UTF-8 nor Windows-1252; save it as UTF-8"
        ) from None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_INLINE_SPACE = re.compile(r"[ \t\u00a0\u3000]+")


def _tidy(text: str) -> str:
    """Normalised Unicode, no control characters, single spaces, one blank line between blocks."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text)
    lines = [_INLINE_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# --------------------------------------------------------------------------------------------
# Markdown

_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n(?:---|\.\.\.)\s*\n", re.S)
_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_LINK_DEFINITION = re.compile(r"^[ \t]{0,3}\[[^\]]+\]:\s*\S+.*$", re.M)
_AUTOLINK = re.compile(r"<(https?://[^>]+)>")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]*(.*?)[ \t]*#*[ \t]*$", re.M)
_SETEXT = re.compile(r"^[ \t]{0,3}(=+|-+)[ \t]*$", re.M)
_RULE = re.compile(r"^[ \t]{0,3}([-*_])([ \t]*\1){2,}[ \t]*$", re.M)
_QUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?", re.M)
_LIST = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?", re.M)
_TABLE_RULE = re.compile(
    r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*$", re.M
)
_EMPHASIS = re.compile(
    r"(\*{1,3})(?=\S)(.+?)(?<=\S)\1"  # *em*, **strong**
    r"|(?<!\w)(_{1,3})(?=\S)(.+?)(?<=\S)\3(?!\w)"  # _em_, but not snake_case words
)
_STRIKE = re.compile(r"~~(.+?)~~")
_CODE = re.compile(r"`+([^`]*)`+")
_TAGS = re.compile(r"</?[A-Za-z][^>]*>")


def markdown_to_text(markdown: str) -> str:
    """Markdown stripped to the text a reader would hear: no markup, code blocks or link URLs."""
    text = _FRONT_MATTER.sub("", markdown.replace("\r\n", "\n"))
    text = _FENCE.sub("", text)
    text = _LINK_DEFINITION.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _TAGS.sub("", text)
    text = _RULE.sub("", text)
    text = _SETEXT.sub("", text)
    text = _HEADING.sub(r"\n\1\n", text)
    text = _QUOTE.sub("", text)
    text = _TABLE_RULE.sub("", text)
    text = _LIST.sub("", text)
    text = _STRIKE.sub(r"\1", text)
    for _ in range(2):  # nested emphasis, e.g. ***bold italic*** inside _quotes_
        text = _EMPHASIS.sub(lambda m: m.group(2) or m.group(4), text)
    text = _CODE.sub(r"\1", text)
    text = re.sub(
        r"^[ \t]*\|(.*)\|[ \t]*$", lambda m: m.group(1).replace("|", " "), text, flags=re.M
    )
    text = text.replace("\\", "")
    return _tidy(text)


# --------------------------------------------------------------------------------------------
# HTML

_SKIPPED_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "svg",
        "iframe",
        "button",
        "select",
        "canvas",
        "object",
        "head",
    }
)
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "br",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "tr",
        "figure",
        "figcaption",
        "hr",
        "address",
        "details",
        "summary",
    }
)
_PARAGRAPH_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "figure"}
)
_CELL_TAGS = frozenset({"td", "th"})
_VOID_TAGS = frozenset(
    {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"}
)
_MAIN_TAGS = frozenset({"main", "article"})


class _ReadableText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title_parts: list[str] = []
        self.first_h1: list[str] = []
        self.meta_title: str | None = None
        self.all_parts: list[str] = []
        self.main_parts: list[str] = []
        self._skip: list[str] = []
        self._in_title = False
        self._in_h1 = False
        self._main_depth = 0
        self._pending_break = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "title":
            self._in_title = True
            return
        if tag == "meta" and attributes.get("property") == "og:title":
            self.meta_title = (attributes.get("content") or "").strip() or None
        if tag in _VOID_TAGS:
            if tag in _BLOCK_TAGS and not self._skip:
                self._break(1)
            return
        if self._skip or tag in _SKIPPED_TAGS or _hidden(attributes):
            self._skip.append(tag)
            return
        if tag in _MAIN_TAGS:
            self._main_depth += 1
        if tag == "h1" and not self.first_h1:
            self._in_h1 = True
        if tag in _BLOCK_TAGS:
            self._break(_block_break(tag))
        elif tag in _CELL_TAGS:
            self._append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            return
        if self._skip:
            if tag in self._skip:
                while self._skip and self._skip.pop() != tag:
                    pass
            return
        if tag in _MAIN_TAGS and self._main_depth:
            self._main_depth -= 1
        if tag == "h1":
            self._in_h1 = False
        if tag in _BLOCK_TAGS:
            self._break(_block_break(tag))

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
            return
        if self._skip:
            return
        if self._in_h1:
            self.first_h1.append(data)
        self._append(data)

    def _break(self, lines: int) -> None:
        """End the current line (1) or paragraph (2); repeated breaks do not stack."""
        self._pending_break = max(self._pending_break, lines)

    def _append(self, text: str) -> None:
        if self._pending_break and text.strip():
            text = "\n" * self._pending_break + text
            self._pending_break = 0
        self.all_parts.append(text)
        if self._main_depth:
            self.main_parts.append(text)


def _block_break(tag: str) -> int:
    return 2 if tag in _PARAGRAPH_TAGS else 1


def _hidden(attributes: dict[str, str | None]) -> bool:
    style = (attributes.get("style") or "").replace(" ", "").lower()
    return (
        "hidden" in attributes or attributes.get("aria-hidden") == "true" or "display:none" in style
    )


def _collapse(parts: list[str]) -> str:
    text = "".join(parts)
    lines = [_INLINE_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


_HTML_LANG = re.compile(
    r"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*)", re.I
)


def html_language(html: str) -> str | None:
    """The page's declared language (`<html lang>`), if any."""
    found = _HTML_LANG.search(html[:65536])
    return found.group(1) if found else None


MAX_ARTICLE_HTML_CHARS = 1_000_000
"""Larger pages skip the article extractor, whose time grows faster than the page (about 2 s
at this size); article pages are far smaller, so those are dumps that the simple extractor
reads in linear time."""


def html_to_text(html: str) -> tuple[str | None, str]:
    """(page title, readable text) of an HTML page: its article without menus, banners, share
    buttons, comments or footers.

    The article is found by trafilatura, a maintained main-content extractor; when it finds
    nothing (a page that is all list, say), the simpler extractor below keeps every visible
    text block, or only <main>/<article> when the page marks them.
    """
    fallback_title, fallback_text = _simple_html_to_text(html)
    article = _article(html) if len(html) <= MAX_ARTICLE_HTML_CHARS else None
    # On small or unusual pages trafilatura falls back to keeping everything, hidden text and
    # menus included: an article longer than the page's visible text is not an article.
    if article is None or len(article[1].split()) >= len(fallback_text.split()):
        return fallback_title, fallback_text
    return fallback_title or article[0], article[1]


def _article(html: str) -> tuple[str | None, str] | None:
    try:
        import trafilatura
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    try:
        document = trafilatura.bare_extraction(
            html,
            include_comments=False,
            include_tables=True,
            with_metadata=True,
        )
    except Exception:  # the extractor is best effort: any failure means "found nothing"
        return None
    text = getattr(document, "text", None) if document is not None else None
    if not isinstance(text, str) or not text.strip():
        return None
    title = getattr(document, "title", None)
    # trafilatura ends each block with one line break; acbatch separates paragraphs by two.
    text = _tidy(text.replace("\n", "\n\n"))
    return (title.strip() if isinstance(title, str) and title.strip() else None), text


def _simple_html_to_text(html: str) -> tuple[str | None, str]:
    """(page title, readable text), without scripts, styles or navigation.

    When the page marks its content with <main> or <article>, only that content is kept.
    """
    parser = _ReadableText()
    parser.feed(html)
    parser.close()
    title = " ".join("".join(parser.title_parts).split()) or parser.meta_title
    if not title:
        title = " ".join("".join(parser.first_h1).split()) or None
    main = _collapse(parser.main_parts)
    text = main if main else _collapse(parser.all_parts)
    return title, _tidy(text)


# --------------------------------------------------------------------------------------------
# PDF and Word


def _pdf_text(path: Path, max_chars: int = MAX_SOURCE_CHARS) -> str:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                unlocked = reader.decrypt("")
            except (NotImplementedError, PdfReadError) as exc:
                raise SourceError(f"{path}: PDF is encrypted ({exc})") from None
            if not unlocked:
                raise SourceError(f"{path}: PDF is password-protected; save an unlocked copy")
        pages: list[str] = []
        length = 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            length += len(pages[-1])
            # Stop reading pages once the text is far past the limit (each stream's inflation
            # is capped by pypdf itself).
            if length > 2 * max_chars:
                raise SourceError(_too_long(path, length, max_chars))
    except SourceError:
        raise
    except FileNotDecryptedError:
        raise SourceError(f"{path}: PDF is password-protected; save an unlocked copy") from None
    except Exception as exc:  # pypdf raises many types for damaged files
        raise SourceError(f"{path}: not a readable PDF ({type(exc).__name__}: {exc})") from None
    text = "\n\n".join(_join_pdf_lines(page) for page in pages)
    if not text.strip():
        raise SourceError(
            f"{path}: PDF has no extractable text (scanned pages need OCR before use)"
        )
    return text


def _join_pdf_lines(page: str) -> str:
    """PDF lines are layout, not paragraphs: rejoin hyphenated and wrapped lines."""
    page = re.sub(r"(\w)-\n(\w)", r"\1\2", page)
    return re.sub(r"(?<![.!?:。！？])\n(?!\n)", " ", page)


def _docx_text(path: Path) -> str:
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise SourceError(f"{path}: not a readable Word .docx file ({exc})") from None
    except Exception as exc:  # python-docx/lxml raise varied errors for damaged files
        raise SourceError(f"{path}: damaged Word file ({type(exc).__name__}: {exc})") from None
    blocks = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            cells: list[str] = []
            for cell in row.cells:
                if cell.text and (not cells or cells[-1] != cell.text):
                    cells.append(cell.text)
            blocks.append(" | ".join(cells))
    return "\n\n".join(block for block in blocks if block.strip())

"""Escaping helpers, Apple categories and the feed GUID."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from acbatch.publish.categories import category_error, group_categories, suggest_category
from acbatch.publish.feedurls import feed_url, podcast_guid
from acbatch.publish.text import (
    cdata,
    clock,
    cue_time,
    escape_text,
    join_url,
    markdown_escape,
    quote_part,
    quote_relpath,
    safe_http_url,
    xml_safe,
)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_survives_xml_and_cdata(text: str) -> None:
    safe = xml_safe(text)
    document = f"<r><a>{escape(safe)}</a><b><![CDATA[{cdata(safe)}]]></b></r>"
    root = ET.fromstring(document.encode("utf-8", "surrogatepass"))
    expected = safe.replace("\r\n", "\n").replace("\r", "\n")  # XML's end-of-line handling
    assert (root.findtext("a") or "") == expected
    assert (root.findtext("b") or "") == expected


def test_xml_safe_drops_only_illegal_characters() -> None:
    assert xml_safe("a\x00b\x0bc\ud800d\ufffee\tf\ng\U0001f399") == "abcde\tf\ng\U0001f399"
    assert xml_safe("x\x7f\x85\x91y\xa0é") == "xy\xa0é"


def test_cdata_splits_the_terminator() -> None:
    assert str(cdata("a]]>b")) == "a]]]]><![CDATA[>b"


def test_markdown_escape_neutralises_html_and_markup() -> None:
    text = "# Title\n1. one\n- item *bold* _it_ [link](x) <script>alert(1)</script> & `code`"
    escaped = markdown_escape(text)
    assert escaped.splitlines()[0] == "\\# Title"
    assert escaped.splitlines()[1] == "1\\. one"
    assert escaped.splitlines()[2].startswith("\\- item \\*bold\\* \\_it\\_ \\[link\\](x)")
    assert "<" not in escaped and "&lt;script&gt;" in escaped and "&amp;" in escaped
    assert "\\`code\\`" in escaped


def test_urls() -> None:
    assert safe_http_url("javascript:alert(1)") is None
    assert safe_http_url("ftp://example.com/x") is None
    assert safe_http_url("https://example.com/a b?q=<x>") == "https://example.com/a%20b?q=%3Cx%3E"
    assert join_url("https://h.example/pod", "episodes/a b/a b.mp3") == (
        "https://h.example/pod/episodes/a%20b/a%20b.mp3"
    )
    assert feed_url("https://h.example/pod/") == "https://h.example/pod/feed.xml"


def test_podcast_guid_follows_the_podcast_namespace_rule() -> None:
    namespace = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
    # The example published with the podcast:guid specification.
    assert podcast_guid("https://mp3s.nashownotes.com/pc20rss.xml") == (
        "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    )
    assert podcast_guid("http://example.com/feed/") == str(
        uuid.uuid5(namespace, "example.com/feed")
    )


def test_clocks() -> None:
    assert clock(65.9) == "1:05"
    assert clock(3723) == "1:02:03"
    assert cue_time(3723.4567) == "01:02:03.457"
    assert cue_time(1.5, ",") == "00:00:01,500"


def test_categories() -> None:
    assert category_error("Technology") is None
    assert category_error("Science/Natural Sciences") is None
    assert category_error("Health & Fitness/Mental Health") is None
    assert "did you mean 'Technology'" in (category_error("technology") or "")
    assert "did you mean 'Science/Natural Sciences'" in (category_error("Natural Sciences") or "")
    assert category_error("Science/Cooking") is not None
    assert category_error("Podcasts") is not None
    assert suggest_category("Tecnology") == "Technology"
    assert group_categories(["Science/Physics", "Technology", "Science/Astronomy"]) == [
        ("Science", ["Physics", "Astronomy"]),
        ("Technology", []),
    ]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fast_helpers_agree_with_the_libraries(text: str) -> None:
    assert escape_text(text) == str(escape(text))
    assert type(escape_text(text)) is str  # a plain string, not Markup
    assert quote_part(text) == quote(text, safe="")
    assert quote_relpath(text) == "/".join(quote(part, safe="") for part in text.split("/"))

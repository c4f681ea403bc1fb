"""Safe YAML loading: positions, scalar types, limits and typed errors."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acbatch.project import yamlsafe
from acbatch.project.yamlsafe import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    YamlError,
    load_yaml_bytes,
    load_yaml_text,
    read_yaml_file,
)


def error_of(text: str | bytes) -> YamlError:
    with pytest.raises(YamlError) as caught:
        if isinstance(text, bytes):
            load_yaml_bytes(text)
        else:
            load_yaml_text(text)
    return caught.value


def billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghijklmnop"
    for level in range(1, levels):
        name, previous = names[level], names[level - 1]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# --- positions ---------------------------------------------------------------------------------


def test_positions_of_keys_values_and_items_are_one_based() -> None:
    document = load_yaml_text(
        "title: Hello\npublish:\n  date: 2026-11-01\nspeakers: [ava, leo]\nlist:\n  - x\n  - y\n"
    )
    assert document.key_position(("title",)) == (1, 1)
    assert document.value_position(("title",)) == (1, 8)
    assert document.key_position(("publish", "date")) == (3, 3)
    assert document.value_position(("publish", "date")) == (3, 9)
    assert document.value_position(("speakers", 1)) == (4, 17)
    assert document.value_position(("list", 1)) == (7, 5)
    assert document.key_position(("list", 1)) == (7, 5)


def test_position_lookup_falls_back_to_the_nearest_written_ancestor() -> None:
    document = load_yaml_text("publish:\n  season: 1\n")
    assert document.value_position(("publish", "episode")) == (2, 3)
    assert document.key_position(("publish", "episode")) == (1, 1)
    assert document.value_position(("missing", "deeper")) == (1, 1)


def test_errors_carry_file_line_column_and_path(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("source:\n  text: a\n  text: b\n", encoding="utf-8")
    with pytest.raises(YamlError) as caught:
        read_yaml_file(spec)
    error = caught.value
    assert (error.file, error.line, error.column) == (spec, 3, 3)
    assert error.path == ("source", "text")
    assert error.message == "duplicate key 'text' (first defined on line 2)"
    assert str(error).startswith(f"{spec}:3:3: ")


# --- scalar typing ------------------------------------------------------------------------------


def test_dates_and_timestamps_stay_text() -> None:
    data = load_yaml_text(
        "date: 2026-11-01\nwhen: 2026-11-01T09:30:00Z\nspaced: 2026-11-01 09:30:00\n"
    ).data
    assert data == {
        "date": "2026-11-01",
        "when": "2026-11-01T09:30:00Z",
        "spaced": "2026-11-01 09:30:00",
    }


def test_yaml_1_1_scalars_are_typed_like_pyyaml_safe_load() -> None:
    text = (
        "a: yes\nb: No\nc: on\nd: OFF\ne: true\nf: ~\ng: null\nh:\ni: 0x1f\nj: 017\n"
        "k: 1_000\nl: 1:30\nm: 2.5\nn: .inf\no: -.Inf\np: '007'\nq: \"yes\"\nr: 1e5\ns: +12\n"
    )
    data = load_yaml_text(text).data
    expected = yaml.safe_load(text)
    assert data == expected
    assert data["a"] is True and data["d"] is False and data["f"] is None
    assert data["i"] == 31 and data["j"] == 15 and data["k"] == 1000 and data["l"] == 90
    assert data["p"] == "007" and data["q"] == "yes" and data["r"] == "1e5"
    assert math.isinf(data["n"]) and data["o"] < 0


def test_nan_is_a_float() -> None:
    assert math.isnan(load_yaml_text("x: .nan\n").data["x"])


def test_boolean_words_remember_their_source_text() -> None:
    document = load_yaml_text("title: no\nflag: true\nempty:\n")
    assert document.scalar_text[("title",)] == "no"
    assert document.scalar_text[("flag",)] == "true"
    assert document.scalar_text[("empty",)] == ""


def test_mapping_keys_are_always_text() -> None:
    assert load_yaml_text("1: a\nyes: b\n~: c\n2026-01-01: d\n").data == {
        "1": "a",
        "yes": "b",
        "~": "c",
        "2026-01-01": "d",
    }


def test_explicit_core_tags_are_honoured() -> None:
    data = load_yaml_text('a: !!str 123\nb: !!int "7"\nc: !!float "1.5"\nd: !!bool "yes"\n').data
    assert data == {"a": "123", "b": 7, "c": 1.5, "d": True}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: !!int abc\n", "'abc' is not a valid number"),
        ("a: !!binary aGk=\n", "unsupported tag !!binary"),
        ("a: !!python/object:os.system x\n", "unsupported tag !!python/object:os.system"),
        ("a: !custom x\n", "unsupported tag !custom"),
        ("a: !!set {x, y}\n", "unsupported tag !!set"),
        ("a: " + "9" * 101 + "\n", "more than 100 digits"),
    ],
)
def test_unsafe_or_invalid_scalars_are_refused(text: str, fragment: str) -> None:
    assert fragment in error_of(text).message


# --- structure ---------------------------------------------------------------------------------


def test_duplicate_keys_are_errors_even_when_quoted_differently() -> None:
    error = error_of('title: one\n"title": two\n')
    assert (error.line, error.column) == (2, 1)
    assert "duplicate key 'title'" in error.message


def test_nested_duplicate_keys_are_found() -> None:
    error = error_of("publish:\n  date: a\n  season: 1\n  date: b\n")
    assert (error.line, error.path) == (4, ("publish", "date"))


def test_aliases_are_copied_not_shared() -> None:
    data = load_yaml_text("a: &x {k: [1, 2]}\nb: *x\n").data
    data["a"]["k"].append(3)
    assert data["b"] == {"k": [1, 2]}


def test_merge_keys_merge_and_written_keys_win() -> None:
    text = "base: &b {x: 1, y: 2}\nmore: &m {z: 3}\nc:\n  y: 20\n  <<: [*b, *m]\n"
    assert load_yaml_text(text).data["c"] == {"y": 20, "x": 1, "z": 3}


def test_merge_key_must_point_at_mappings() -> None:
    assert "'<<' must be followed by a mapping" in error_of("a:\n  <<: [1, 2]\n").message


def test_recursive_and_undefined_aliases_are_errors() -> None:
    assert "refers to itself" in error_of("a: &r [*r]\n").message
    assert "no matching anchor" in error_of("a: *nowhere\n").message


def test_complex_keys_and_alias_keys_are_refused() -> None:
    assert "keys must be plain text" in error_of("? [a, b]\n: c\n").message
    assert "alias cannot be used as a mapping key" in error_of("a: &k x\n*k : y\n").message


def test_more_than_one_document_is_refused_but_one_marked_document_is_fine() -> None:
    assert load_yaml_text("---\na: 1\n...\n").data == {"a": 1}
    error = error_of("a: 1\n---\nb: 2\n")
    assert error.line == 2 and "more than one YAML document" in error.message


def test_empty_documents_are_none() -> None:
    assert load_yaml_text("").data is None
    assert load_yaml_text("# only a comment\n\n").data is None


def test_syntax_errors_say_where_and_hint_at_tabs() -> None:
    error = error_of("source:\n\ttext: hello\n")
    assert (error.line, error.column) == (2, 1)
    assert error.message.startswith("YAML syntax error:")
    assert "indent with spaces, not tabs" in error.message


# --- limits -------------------------------------------------------------------------------------


def test_billion_laughs_is_refused_fast() -> None:
    text = billion_laughs()
    assert len(text.encode()) < 1100
    started = time.perf_counter()
    error = error_of(text)
    elapsed = time.perf_counter() - started
    assert "billion laughs" in error.message
    assert elapsed < 1.0, f"took {elapsed:.3f} s"


def test_many_aliases_of_one_big_anchor_hit_the_alias_budget() -> None:
    items = ",".join(str(i) for i in range(1000))
    text = f"big: &big [{items}]\ncopies: [" + ", ".join(["*big"] * 20) + "]\n"
    error = error_of(text)
    assert f"{MAX_ALIAS_NODES:,}" in error.message and error.line == 2


def test_small_alias_use_is_fine() -> None:
    text = billion_laughs(levels=3)
    data = load_yaml_text(text).data
    assert len(data["c"]) == 9 and data["c"][0][0] == ["lol"] * 9


@pytest.mark.parametrize("style", ["block", "flow"])
def test_deep_nesting_is_refused(style: str) -> None:
    depth = MAX_DEPTH + 5
    if style == "flow":
        text = "a: " + "[" * depth + "]" * depth + "\n"
    else:
        text = (
            "".join(f"{'  ' * level}k{level}:\n" for level in range(depth)) + "  " * depth + "x\n"
        )
    assert "nest" in error_of(text).message


def test_very_deep_flow_nesting_does_not_crash() -> None:
    assert "nest" in error_of("[" * 100_000 + "]" * 100_000).message.lower()


def test_nesting_within_the_limit_loads() -> None:
    depth = MAX_DEPTH - 1
    data = load_yaml_text("[" * depth + "1" + "]" * depth).data
    for _ in range(depth - 1):
        data = data[0]
    assert data == [1]


def test_files_over_the_size_limit_are_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(YamlError) as caught:
        read_yaml_file(big)
    assert "too large" in caught.value.message and f"{MAX_FILE_BYTES:,}" in caught.value.message
    assert "too large" in error_of(b"a: 1\n" + b"#" * MAX_FILE_BYTES).message


def test_a_file_at_the_size_limit_loads(tmp_path: Path) -> None:
    exact = tmp_path / "exact.yaml"
    exact.write_bytes(b"a: 1\n#" + b"x" * (MAX_FILE_BYTES - 7) + b"\n")
    assert exact.stat().st_size == MAX_FILE_BYTES
    assert read_yaml_file(exact).data == {"a": 1}


def test_too_many_values_are_refused() -> None:
    count = yamlsafe.MAX_NODES + 10
    assert "more than" in error_of("[" + ",".join(["1"] * count) + "]").message


# --- bytes and files ----------------------------------------------------------------------------


def test_binary_files_are_refused() -> None:
    error = error_of(b"a: 1\nb: \x00\x01\x02\n")
    assert "binary file" in error.message and error.line == 2


def test_non_utf8_files_name_the_line() -> None:
    error = error_of("a: 1\ntitle: caf\u00e9\n".encode("latin-1"))
    assert "not UTF-8" in error.message and "0xe9" in error.message and error.line == 2


def test_utf16_is_refused() -> None:
    assert error_of("a: 1\n".encode("utf-16")).message


def test_utf8_with_bom_and_non_ascii_text_load() -> None:
    data = load_yaml_bytes("\ufefftitle: おちゃ\nname: café\n".encode()).data
    assert data == {"title": "おちゃ", "name": "café"}


def test_control_characters_are_refused() -> None:
    assert error_of("a: \x07bell\n").message


def test_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(YamlError) as caught:
        read_yaml_file(fifo)
    assert "not a regular file" in caught.value.message
    with pytest.raises(YamlError) as caught:
        read_yaml_file(tmp_path)
    assert "not a regular file" in caught.value.message
    with pytest.raises(YamlError) as caught:
        read_yaml_file(tmp_path / "missing.yaml")
    assert "file not found" in caught.value.message


# --- properties ----------------------------------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
DATA = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(DATA)
@pytest.mark.slow
def test_loading_agrees_with_pyyaml_safe_load(data: object) -> None:
    text = yaml.safe_dump({"root": data}, allow_unicode=True)
    try:
        loaded = load_yaml_text(text).data
    except YamlError as error:
        # Only a string holding characters YAML cannot carry may fail, and then cleanly.
        assert error.message
        return
    assert loaded == yaml.load(text, Loader=yamlsafe.Loader)


YAMLISH = st.lists(
    st.sampled_from(
        [
            "a",
            "b",
            "key",
            ":",
            ": ",
            "-",
            "- ",
            " ",
            "  ",
            "\n",
            "\t",
            "[",
            "]",
            "{",
            "}",
            ",",
            "&x ",
            "*x",
            "&y ",
            "*y",
            "<<: ",
            "!!str ",
            "!!int ",
            "!!binary ",
            "!tag ",
            "? ",
            "|",
            ">",
            "#",
            "'",
            '"',
            "---",
            "...",
            "%YAML 1.1\n",
            "~",
            "yes",
            "2026-11-01",
            "0x1f",
            "1:30",
            ".inf",
            "9" * 120,
            "é",
            "\x00",
            "\x07",
            "\\",
            "@",
            "`",
        ]
    ),
    max_size=40,
).map("".join)


@settings(
    max_examples=2000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(YAMLISH)
@pytest.mark.slow
def test_fuzzed_yamlish_text_only_ever_raises_yaml_error(text: str) -> None:
    try:
        document = load_yaml_text(text)
    except YamlError as error:
        assert error.line >= 1 and error.column >= 1 and error.message
        return
    assert isinstance(document.data, (dict, list, str, int, float, bool, type(None)))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=200))
def test_fuzzed_bytes_only_ever_raise_yaml_error(data: bytes) -> None:
    try:
        load_yaml_bytes(data)
    except YamlError as error:
        assert error.message

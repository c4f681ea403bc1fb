"""The catastrophic-regex check: known patterns, and the same verdicts as Python's own parser."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from acbatch.runner.backtracking import catastrophic_backtracking, parse

CATASTROPHIC = [
    "(a+)+$",
    r"(\w+\s?)+$",
    "(x+x+)+y",
    "(a*)*b",
    "(?:a+)+",
    "((ab)+)+c",
    r"(\d+)*\.",
    "(a+){2,}",
    "(a{2,})+",
    "(a+b?)+$",
    "(?P<word>a+)+$",
    "(?i:(a+)+)",
    "(a+?)+",
    "x(a|b+)*y",
    "((a+))+",
    r"^(\s*,?\s*\w+)*$",
    "(a+|b)*c",
]
"""Exponential in Python's `re`, grep -P, JavaScript: each has a repeat inside an unbounded one."""

HARMLESS = [
    "a+",
    "(a|b)+",
    "(ab)+",
    "(a+b)+",  # each repeat of the group must end with a b: one way to split
    "(a?)",
    "(a{1,2}b)+",
    "[a+]+",
    r"\(a+\)+",
    "(a+)",
    "a+b+c+",
    "(a)+(b+)",
    "(?:a{1})+",
    "(a?)+",  # repeats of at most one character: linear in Python's engine
    "a++",  # possessive: gives nothing back
    "(?>a+)+",  # atomic: gives nothing back
    "(?=a+)+",
    "(a+)?",
    "(a|aa)+$",  # no repeat inside the repeated group (polynomial at worst, not exponential)
    "[(a+)+]",
    "(?#(a+)+)x",
    "colou?r",
    r"\d{4}-\d{2}-\d{2}",
    "",
]

NOT_PATTERNS = ["(a+", "a+)", "*a", "a**", "[a+", r"\q", "a{3,2}", "(?P<x", "(?Q)"]
"""Not patterns at all: no verdict (RE2 says what is wrong with them)."""


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_nested_repeats_are_found(pattern: str) -> None:
    assert catastrophic_backtracking(pattern) == "a repeated group that itself holds a repeat"


@pytest.mark.parametrize("pattern", HARMLESS)
def test_patterns_without_nested_repeats_pass(pattern: str) -> None:
    assert catastrophic_backtracking(pattern) is None


@pytest.mark.parametrize("pattern", NOT_PATTERNS)
def test_broken_patterns_get_no_verdict(pattern: str) -> None:
    with pytest.raises(re.error):
        re.compile(pattern)
    assert catastrophic_backtracking(pattern) is None


def test_flags_after_the_start_do_not_hide_a_nested_repeat() -> None:
    """Python refuses them; RE2 and other engines accept them, so the pattern is still read."""
    assert catastrophic_backtracking("x(?i)(a+)+") is not None
    assert catastrophic_backtracking("(?x) ( a + ) + # comment") is not None


def test_a_deep_pattern_is_no_trouble() -> None:
    assert catastrophic_backtracking("(" * 5000 + "a" + ")" * 5000) is None
    assert parse("((a))") == (("group", (("group", (("atom", "a"),), False),), False),)


# -- the same verdicts as Python's parser ---------------------------------------------------------


def python_verdict(pattern: str) -> bool | None:
    """The verdict read from Python's own (private) parser: the check this module replaced."""
    try:
        import re._parser as sre_parse  # type: ignore[import-not-found]
    except ImportError:  # Python 3.10
        import sre_parse
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return None
    repeats = (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT)

    def can_be_empty(op: Any, argument: Any) -> bool:
        if op in repeats:
            return argument[0] == 0 or all(can_be_empty(*item) for item in argument[2])
        if op == sre_parse.SUBPATTERN:
            return all(can_be_empty(*item) for item in argument[-1])
        if op == sre_parse.BRANCH:
            return any(all(can_be_empty(*item) for item in branch) for branch in argument[1])
        return op == sre_parse.AT

    def ambiguous(items: Any) -> bool:
        items = list(items)
        for index, (op, argument) in enumerate(items):
            others = items[:index] + items[index + 1 :]
            if not all(other in repeats or can_be_empty(other, arg) for other, arg in others):
                continue
            if op in repeats and argument[1] > 1:
                return True
            if op == sre_parse.SUBPATTERN and ambiguous(argument[-1]):
                return True
            if op == sre_parse.BRANCH and any(ambiguous(branch) for branch in argument[1]):
                return True
        return False

    def find(items: Any) -> bool:
        for op, argument in items:
            if op in repeats:
                if (argument[1] == sre_parse.MAXREPEAT and ambiguous(argument[2])) or find(
                    argument[2]
                ):
                    return True
            elif op == sre_parse.SUBPATTERN:
                if find(argument[-1]):
                    return True
            elif op == sre_parse.BRANCH and any(find(branch) for branch in argument[1]):
                return True
        return False

    return find(parsed)


ATOMS = [
    r"a",
    r"b",
    r".",
    r"\w",
    r"\d",
    r"\s",
    r"[ab]",
    r"[^a]",
    r"[]a]",
    r"\.",
    r"^",
    r"$",
    r"\b",
    r"\B",
    r"\A",
    r"\Z",
    r"\x41",
    r"\0",
    r"-",
    r"{",
    r"}",
    r"é",
    r"#",
    " ",
]
BROKEN = ["(", ")", "*", r"\q", "a**", "a{4294967295}", "a{3,2}"]
"""Not patterns: Python gives no verdict."""
QUANTIFIERS = [
    "*",
    "+",
    "+",
    "?",
    "*?",
    "+?",
    "??",
    "{2}",
    "{2,}",
    "{,3}",
    "{1,3}",
    "{,}",
    "{2,}?",
    "{0}",
    "{1}",
    "{}",
    "{x}",
    "++",
    "*+",
]
OPENERS = ["(", "(", "(?:", "(?i:", "(?x:", "(?=", "(?!", "(?<=", "(?>", "(?#c)("]
STARTS = ["", "", "", "", "(?x)", "(?i)"]


def random_pattern(draw: random.Random, depth: int = 0) -> str:
    """Atoms, groups of every kind, alternations and quantifiers, nested a few levels."""
    roll = draw.random()
    if depth > 3 or roll < 0.35:
        part = draw.choice(BROKEN if draw.random() < 0.02 else ATOMS)
    elif roll < 0.6:
        inner = "".join(random_pattern(draw, depth + 1) for _ in range(draw.randint(0, 3)))
        part = draw.choice(OPENERS) + inner + ")"
    elif roll < 0.8:
        part = "|".join(random_pattern(draw, depth + 1) for _ in range(draw.randint(2, 3)))
        part = f"({part})" if draw.random() < 0.7 else part
    else:
        part = "".join(random_pattern(draw, depth + 1) for _ in range(draw.randint(1, 3)))
    if draw.random() < 0.45:
        part += draw.choice(QUANTIFIERS)
    return part


@pytest.mark.slow
def test_the_verdicts_are_python_parsers() -> None:
    """20,000 generated patterns (seeded): the same verdict as Python's parser for each."""
    draw = random.Random(16)
    verdicts: dict[bool | None, int] = {True: 0, False: 0, None: 0}
    for _ in range(20_000):
        pattern = draw.choice(STARTS) + random_pattern(draw)
        expected = python_verdict(pattern)
        found = catastrophic_backtracking(pattern)
        if expected is None:  # not a pattern to Python: no verdict
            assert found is None, pattern
        else:
            assert (found is not None) is expected, pattern
        verdicts[expected] += 1
    assert min(verdicts.values()) > 200, verdicts  # every verdict is exercised

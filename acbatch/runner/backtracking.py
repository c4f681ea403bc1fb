"""Which regexes backtrack catastrophically: a small scanner of the pattern and one question.

Replace rules run on RE2, which never backtracks; but a user copies a pattern to other tools, and
`(a+)+$` hangs Python's `re`, grep -P, JavaScript and most editors on a line of a's. `validate`
refuses such a pattern. The pattern is read here into a small tree (sequences of atoms, groups,
alternations and repeats); character classes, escapes, look-arounds and flags are read only as
far as needed to know where each atom ends. The verdicts are those Python's own parser gives
(tests/test_hardening.py compares them), without depending on its private modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

UNBOUNDED = -1
"""The high bound of `*`, `+` and `{m,}`."""
MAX_BOUND = 4294967295
"""Python refuses repeat counts from here on."""
_WHITESPACE = frozenset(" \t\n\r\v\f")
_FLAGS = frozenset("aiLmsux")
_CATEGORY_ESCAPES = frozenset("dDsSwW")
_ANCHOR_ESCAPES = frozenset("AbBZ")
_CHARACTER_ESCAPES = frozenset("afnrtv\\")
_HEX = frozenset("0123456789abcdefABCDEF")
_OCTAL = frozenset("01234567")

Node = tuple[Any, ...]
"""("atom", text) | ("anchor", text) | ("repeat", low, high, body) | ("group", body) |
("branch", (body, ...)); a body is a tuple of nodes. Atoms never match nothing; anchors do."""


class PatternError(ValueError):
    """Not a pattern Python's `re` would compile (RE2 says what is wrong with it)."""


def catastrophic_backtracking(pattern: str) -> str | None:
    """The part of `pattern` that backtracks exponentially in backtracking engines (a repeated
    group holding an unbounded repeat, like `(a+)+`), or None."""
    try:
        parsed = parse(pattern)
    except PatternError:
        return None
    return "a repeated group that itself holds a repeat" if _nested_repeat(parsed) else None


def parse(pattern: str) -> tuple[Node, ...]:
    """The pattern's tree; PatternError when it is not one."""
    scanner = _Scanner(pattern)
    body = scanner.alternation(verbose=False, depth=0)
    if scanner.position < len(pattern):
        raise PatternError("unbalanced parenthesis")
    return body


# -- the question ---------------------------------------------------------------------------------


def _is_repeat(node: Node) -> bool:
    return bool(node[0] == "repeat")


def _can_be_empty(node: Node) -> bool:
    kind: str = node[0]
    if kind == "repeat":
        return bool(node[1] == 0) or all(_can_be_empty(item) for item in node[3])
    if kind == "group":
        return all(_can_be_empty(item) for item in node[1])
    if kind == "branch":
        return any(all(_can_be_empty(item) for item in branch) for branch in node[1])
    return kind == "anchor"


def _ambiguous(items: tuple[Node, ...]) -> bool:
    """Can one stretch of text be split between repeats of `items` in many ways? True when
    `items` is, apart from parts that may match nothing and other repeats, a repeat of its own."""
    for index, node in enumerate(items):
        others = items[:index] + items[index + 1 :]
        if not all(_is_repeat(other) or _can_be_empty(other) for other in others):
            continue
        if _is_repeat(node) and (node[2] == UNBOUNDED or node[2] > 1):
            return True
        if node[0] == "group" and _ambiguous(node[1]):
            return True
        if node[0] == "branch" and any(_ambiguous(branch) for branch in node[1]):
            return True
    return False


def _nested_repeat(items: tuple[Node, ...]) -> bool:
    for node in items:
        if node[0] == "repeat":
            body = node[3]
            if (node[2] == UNBOUNDED and _ambiguous(body)) or _nested_repeat(body):
                return True
        elif node[0] == "group":
            if _nested_repeat(node[1]):
                return True
        elif node[0] == "branch" and any(_nested_repeat(branch) for branch in node[1]):
            return True
    return False


# -- the scanner ----------------------------------------------------------------------------------


@dataclass
class _Scanner:
    pattern: str
    position: int = 0
    verbose_everywhere: bool = False
    """Set by a leading `(?x)`: whitespace and `#` comments are not part of the pattern."""

    def peek(self, offset: int = 0) -> str:
        index = self.position + offset
        return self.pattern[index] if index < len(self.pattern) else ""

    def take(self) -> str:
        char = self.peek()
        if not char:
            raise PatternError("unexpected end of pattern")
        self.position += 1
        return char

    def alternation(self, verbose: bool, depth: int) -> tuple[Node, ...]:
        """Branches up to an unmatched `)` or the end, as Python's parser shapes them."""
        if depth > 200:
            raise PatternError("too deeply nested")
        branches = [self.sequence(verbose, depth)]
        while self.peek() == "|":
            self.position += 1
            branches.append(self.sequence(verbose, depth))
        if len(branches) == 1:
            return tuple(branches[0])
        return _branch(branches)

    def sequence(self, verbose: bool, depth: int) -> list[Node]:
        items: list[Node] = []
        while True:
            char = self.peek()
            verbose = verbose or self.verbose_everywhere
            if char in ("", "|", ")"):
                return items
            if verbose and char in _WHITESPACE:
                self.position += 1
            elif verbose and char == "#":
                while self.peek() not in ("", "\n"):
                    self.position += 1
            elif char in "*+?" or (char == "{" and self._bounds() is not None):
                self._repeat(items)
            elif char == "(":
                self.position += 1
                node = self._group(verbose, depth)
                if node is not None:
                    items.append(node)
            elif char == "[":
                items.append(("atom", self._character_class()))
            elif char in "^$":
                self.position += 1
                items.append(("anchor", char))
            elif char == "\\":
                items.append(self._escape())
            else:
                self.position += 1
                items.append(("atom", char))

    def _bounds(self) -> tuple[int, int, int] | None:
        """(low, high, length) of a `{m}`, `{m,}`, `{,n}` or `{m,n}` here; None: a literal `{`."""
        end = self.pattern.find("}", self.position)
        if end < 0:
            return None
        inside = self.pattern[self.position + 1 : end]
        low_text, comma, high_text = inside.partition(",")
        if not (low_text.isdigit() or low_text == "") or not (
            high_text.isdigit() or high_text == ""
        ):
            return None
        if not inside or not (low_text.isascii() and high_text.isascii()):
            return None
        low = int(low_text) if low_text else 0
        high = (int(high_text) if high_text else UNBOUNDED) if comma else low
        if low >= MAX_BOUND or high >= MAX_BOUND:
            raise PatternError("the repetition number is too large")
        if high != UNBOUNDED and high < low:
            raise PatternError("min repeat greater than max repeat")
        return low, high, end + 1 - self.position

    def _repeat(self, items: list[Node]) -> None:
        char = self.peek()
        if char == "{":
            bounds = self._bounds()
            assert bounds is not None
            low, high, length = bounds
        else:
            low, high, length = {"*": (0, UNBOUNDED, 1), "+": (1, UNBOUNDED, 1)}.get(
                char, (0, 1, 1)
            )
        self.position += length
        if not items or items[-1][0] == "anchor":
            raise PatternError("nothing to repeat")
        if items[-1][0] == "repeat" or items[-1][:2] == ("atom", "possessive"):
            raise PatternError("multiple repeat")
        last = items[-1]
        body = last[1] if last[0] == "group" and last[2] else (last,)
        if self.peek() == "?":  # lazy: the same splits, tried in another order
            self.position += 1
        elif self.peek() == "+":  # possessive: never gives back, so never backtracks
            self.position += 1
            items[-1] = ("atom", "possessive", low, high, body)
            return
        items[-1] = ("repeat", low, high, body)

    def _group(self, verbose: bool, depth: int) -> Node | None:
        """The group after `(`; None for a comment or flags that apply from here on (Python
        takes those only at the start; other engines anywhere, so the rest is still read)."""
        opaque = False
        plain = False
        if self.peek() == "?":
            self.position += 1
            kind = self.take()
            if kind == "#":
                end = self.pattern.find(")", self.position)
                if end < 0:
                    raise PatternError("missing ), unterminated comment")
                self.position = end + 1
                return None
            if kind == "P":
                kind = self.take()
                if kind == "<":
                    self._name(">")
                elif kind == "=":
                    self._name(")")
                    return ("atom", "backreference")
                else:
                    raise PatternError("unknown extension ?P" + kind)
            elif kind == ":":
                plain = True
            elif kind in "=!>":
                opaque = True
            elif kind == "<":
                if self.take() not in "=!":
                    raise PatternError("unknown extension ?<")
                opaque = True
            elif kind == "(":
                self._name(")")
                opaque = True
            elif kind in _FLAGS or kind == "-":
                scoped, verbose_inside = self._flags(kind, verbose)
                if not scoped:
                    self.verbose_everywhere = self.verbose_everywhere or verbose_inside
                    return None
                inner = self.alternation(verbose_inside, depth + 1)
                self._close()
                return ("group", inner, False)
            else:
                raise PatternError("unknown extension ?" + kind)
        inner = self.alternation(verbose, depth + 1)
        self._close()
        if opaque:  # look-around, atomic or conditional: Python's answer does not look inside
            return ("atom", "(?" + repr(inner))
        return ("group", inner, plain)

    def _close(self) -> None:
        if self.peek() != ")":
            raise PatternError("missing ), unterminated subpattern")
        self.position += 1

    def _name(self, terminator: str) -> None:
        end = self.pattern.find(terminator, self.position)
        if end <= self.position:
            raise PatternError("missing group name")
        self.position = end + 1

    def _flags(self, char: str, verbose: bool) -> tuple[bool, bool]:
        """Read `(?flags)` or `(?flags-flags:` after its first letter: (scoped, verbose)."""
        added = ""
        removing = char == "-"
        removed = ""
        if not removing:
            added += char
        while True:
            char = self.take()
            if char in _FLAGS:
                if removing:
                    removed += char
                else:
                    added += char
            elif char == "-" and not removing:
                removing = True
            elif char == ")" and not removing:
                return False, verbose or "x" in added
            elif char == ":":
                if "x" in added:
                    return True, True
                return True, verbose and "x" not in removed
            else:
                raise PatternError("unknown flag")

    def _character_class(self) -> str:
        start = self.position
        self.position += 1
        if self.peek() == "^":
            self.position += 1
        if self.peek() == "]":
            self.position += 1
        while True:
            char = self.take()
            if char == "\\":
                self.take()
            elif char == "]":
                return self.pattern[start : self.position]

    def _escape(self) -> Node:
        start = self.position
        self.position += 1
        char = self.take()
        if char in _ANCHOR_ESCAPES:
            return ("anchor", "\\" + char)
        if char in _CATEGORY_ESCAPES or char in _CHARACTER_ESCAPES:
            return ("atom", "\\" + char)
        if char in "xuU":
            wanted = {"x": 2, "u": 4, "U": 8}[char]
            digits = 0
            while digits < wanted and self.peek() in _HEX and self.peek():
                self.position += 1
                digits += 1
            if digits != wanted:
                raise PatternError("incomplete escape")
        elif char == "N":
            if self.peek() != "{":
                raise PatternError("missing {")
            self._name("}")
        elif char == "0":
            for _ in range(2):
                if self.peek() and self.peek() in _OCTAL:
                    self.position += 1
        elif char.isdigit():
            if self.peek().isdigit() and self.peek().isascii():
                second = self.take()
                third = self.peek()
                if char in _OCTAL and second in _OCTAL and third and third in _OCTAL:
                    self.position += 1
                    return ("atom", self.pattern[start : self.position])
            return ("atom", "backreference")
        elif char.isascii() and char.isalpha():
            raise PatternError("bad escape \\" + char)
        return ("atom", self.pattern[start : self.position])


def _branch(branches: list[list[Node]]) -> tuple[Node, ...]:
    """Alternatives as Python's parser shapes them: a common start moved out in front, and
    alternatives of one atom each read as one atom (a character class)."""
    prefix: list[Node] = []
    while all(branches) and all(branch[0] == branches[0][0] for branch in branches):
        prefix.append(branches[0][0])
        branches = [branch[1:] for branch in branches]
    if all(len(branch) == 1 and branch[0][0] == "atom" for branch in branches):
        return (*prefix, ("atom", "|".join(str(branch[0][1]) for branch in branches)))
    return (*prefix, ("branch", tuple(tuple(branch) for branch in branches)))

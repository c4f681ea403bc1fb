"""feed.xml and index.html assembled from cached fragments (feed items, page articles).

The built-in feed and page templates print each fragment once, in order, between a head and a
tail: those are rendered once, with two placeholder fragments, and the fragments' UTF-8 bytes
joined in between; 10,000 fragments are not decoded for Jinja and its output encoded again.
Any other template sees the fragments as a sequence of markup and is rendered piece by piece.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from markupsafe import Markup

from acbatch.publish.templating import Templates

Frame = tuple[bytes, bytes, bytes]
"""(head, separator, tail): the page is head + (fragment + separator)* + tail."""

# Placeholders no rendered text contains (views drop NUL characters).
_SLOTS = ("\0acbatch-slot-1\0", "\0acbatch-slot-2\0")


class Fragments(Sequence[Markup]):
    """Cached fragments as page templates see them: markup, decoded one at a time."""

    def __init__(self, fragments: list[bytes]) -> None:
        self._fragments = fragments

    def __len__(self) -> int:
        return len(self._fragments)

    def __getitem__(self, index: int) -> Markup:  # type: ignore[override]
        return Markup(self._fragments[index].decode("utf-8"))

    def __iter__(self) -> Iterator[Markup]:
        for fragment in self._fragments:
            yield Markup(fragment.decode("utf-8"))


def assemble_page(
    templates: Templates,
    name: str,
    context: dict[str, Any],
    key: str,
    fragments: list[bytes],
    frame: Frame | None = None,
) -> bytes:
    """Page template `name` rendered to UTF-8 with `fragments` (cached markup) as `key`.

    `frame` is page_frame()'s answer when the caller already has it.
    """
    if fragments and templates.origin(name) == "built-in":
        frame = frame or page_frame(templates, name, context, key)
        if frame is not None:
            head, separator, tail = frame
            pieces = [head]
            for fragment in fragments:
                pieces += (fragment, separator)
            pieces.append(tail)
            return b"".join(pieces)
    page = templates.stream(name, {**context, key: Fragments(fragments)})
    return b"".join([piece.encode("utf-8") for piece in page])


def page_frame(templates: Templates, name: str, context: dict[str, Any], key: str) -> Frame | None:
    """The page's Frame when template `name` prints the list `key` that way, else None."""
    render = templates.renderer(name)
    first, second = _SLOTS
    two = render({**context, key: [Markup(first), Markup(second)]})
    one = render({**context, key: [Markup(first)]})
    if two.count(first) != 1 or two.count(second) != 1:
        return None
    head, _, rest = two.partition(first)
    separator, _, after = rest.partition(second)
    if not after.startswith(separator):
        return None
    tail = after[len(separator) :]
    if one != head + first + separator + tail:
        return None
    return head.encode("utf-8"), separator.encode("utf-8"), tail.encode("utf-8")

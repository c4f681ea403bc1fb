"""Opening the generated site in the user's browser, the same way on Linux, macOS and Windows."""

from __future__ import annotations

import os
import sys
import webbrowser
from pathlib import Path


def site_page(output: Path) -> Path:
    """The site's front page in an output folder."""
    return output / "index.html"


def can_show_a_window() -> bool:
    """False on a Linux or BSD machine without a display and without $BROWSER (an SSH session,
    CI), where Python would fall back to a text browser taking over the terminal."""
    if sys.platform in ("darwin", "win32") or os.environ.get("BROWSER"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_in_browser(url: str) -> bool:
    """Ask the system's browser (or $BROWSER) to show `url`; False when none could."""
    if not can_show_a_window():
        return False
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False

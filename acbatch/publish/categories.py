"""Apple Podcasts categories and subcategories (the list Apple has published since 2019)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

APPLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": (
        "Books",
        "Design",
        "Fashion & Beauty",
        "Food",
        "Performing Arts",
        "Visual Arts",
    ),
    "Business": (
        "Careers",
        "Entrepreneurship",
        "Investing",
        "Management",
        "Marketing",
        "Non-Profit",
    ),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": (
        "Alternative Health",
        "Fitness",
        "Medicine",
        "Mental Health",
        "Nutrition",
        "Sexuality",
    ),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": (
        "Animation & Manga",
        "Automotive",
        "Aviation",
        "Crafts",
        "Games",
        "Hobbies",
        "Home & Garden",
        "Video Games",
    ),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": (
        "Business News",
        "Daily News",
        "Entertainment News",
        "News Commentary",
        "Politics",
        "Sports News",
        "Tech News",
    ),
    "Religion & Spirituality": (
        "Buddhism",
        "Christianity",
        "Hinduism",
        "Islam",
        "Judaism",
        "Religion",
        "Spirituality",
    ),
    "Science": (
        "Astronomy",
        "Chemistry",
        "Earth Sciences",
        "Life Sciences",
        "Mathematics",
        "Natural Sciences",
        "Nature",
        "Physics",
        "Social Sciences",
    ),
    "Society & Culture": (
        "Documentary",
        "Personal Journals",
        "Philosophy",
        "Places & Travel",
        "Relationships",
    ),
    "Sports": (
        "Baseball",
        "Basketball",
        "Cricket",
        "Fantasy Sports",
        "Football",
        "Golf",
        "Hockey",
        "Rugby",
        "Running",
        "Soccer",
        "Swimming",
        "Tennis",
        "Volleyball",
        "Wilderness",
        "Wrestling",
    ),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"),
}

ALL_CATEGORY_PATHS: tuple[str, ...] = tuple(
    path
    for parent, subs in APPLE_CATEGORIES.items()
    for path in (parent, *(f"{parent}/{sub}" for sub in subs))
)


@dataclass(frozen=True)
class Category:
    name: str
    subcategory: str | None = None

    @property
    def path(self) -> str:
        return f"{self.name}/{self.subcategory}" if self.subcategory else self.name


def is_valid(name: str, subcategory: str | None = None) -> bool:
    subs = APPLE_CATEGORIES.get(name)
    if subs is None:
        return False
    return subcategory is None or subcategory in subs


def parse_category(path: str) -> Category:
    """'Science/Natural Sciences' -> Category('Science', 'Natural Sciences'); no validation."""
    name, _, sub = path.partition("/")
    return Category(name.strip(), sub.strip() or None)


def category_error(path: str) -> str | None:
    """Why `path` is not an Apple category ("Technology", "Science/Natural Sciences"), or None."""
    category = parse_category(path)
    if is_valid(category.name, category.subcategory):
        return None
    message = f"'{path}' is not an Apple Podcasts category"
    suggestion = suggest_category(path)
    if suggestion:
        message += f" (did you mean '{suggestion}'?)"
    return message


def suggest_category(path: str) -> str | None:
    by_folded = {p.casefold(): p for p in ALL_CATEGORY_PATHS}
    folded = path.replace(" / ", "/").strip().casefold()
    if folded in by_folded:
        return by_folded[folded]
    leaf_matches = [p for p in ALL_CATEGORY_PATHS if p.rsplit("/", 1)[-1].casefold() == folded]
    if leaf_matches:
        return leaf_matches[0]
    close = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=0.6)
    return by_folded[close[0]] if close else None


def group_categories(paths: tuple[str, ...] | list[str]) -> list[tuple[str, list[str]]]:
    """Parent categories in first-seen order, each with its subcategories (for nested XML)."""
    grouped: dict[str, list[str]] = {}
    for path in paths:
        category = parse_category(path)
        subs = grouped.setdefault(category.name, [])
        if category.subcategory and category.subcategory not in subs:
            subs.append(category.subcategory)
    return list(grouped.items())

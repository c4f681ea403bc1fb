"""Jinja environments: the project's templates/ folder first, then the built-in templates.

HTML and XML templates autoescape every value; Markdown templates escape every value for
Markdown. Values already marked safe (markupsafe.Markup) pass through untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from acbatch.publish.errors import TemplateError
from acbatch.publish.text import cdata, clock, markdown_escape, quote_relpath

BUILTIN_PACKAGE = "acbatch"
BUILTIN_FOLDER = "templates"

_ESCAPED_SUFFIXES = (".html", ".htm", ".xml")


def _autoescape(name: str | None) -> bool:
    if name is None:
        return True
    base = name[:-3] if name.endswith(".j2") else name
    return base.lower().endswith(_ESCAPED_SUFFIXES)


class Templates:
    """Loads a template by name from the override folder or the package, and renders it."""

    def __init__(self, override_dir: Path | None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        self.override_dir = override_dir
        if override_dir is not None and override_dir.is_dir():
            loaders.append(jinja2.FileSystemLoader(str(override_dir)))
        loaders.append(jinja2.PackageLoader(BUILTIN_PACKAGE, BUILTIN_FOLDER))
        loader = jinja2.ChoiceLoader(loaders)
        common: dict[str, Any] = {
            "loader": loader,
            "undefined": jinja2.StrictUndefined,
            "keep_trailing_newline": True,
            "trim_blocks": True,
            "lstrip_blocks": True,
        }
        # View values are cleaned (XML-legal) when views are built, so markup needs no finalize.
        self.markup_env = jinja2.Environment(autoescape=_autoescape, **common)
        self.markdown_env = jinja2.Environment(autoescape=False, finalize=markdown_escape, **common)
        for env in (self.markup_env, self.markdown_env):
            env.filters["clock"] = clock
            env.filters["cdata"] = cdata
            env.filters["urlpath"] = quote_relpath

    def get(self, name: str) -> jinja2.Template:
        env = self.markup_env if _autoescape(name) else self.markdown_env
        try:
            return env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            where = self._where(exc.filename or name, exc.lineno)
            raise TemplateError(f"{where}: {exc.message}") from exc
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"template '{exc.name}' not found") from exc

    def source(self, name: str) -> str:
        """The template's text (for change detection); empty when it cannot be loaded."""
        env = self.markup_env if _autoescape(name) else self.markdown_env
        try:
            text, _filename, _uptodate = env.loader.get_source(env, name)  # type: ignore[union-attr]
        except jinja2.TemplateNotFound:
            return ""
        return text

    def render(self, name: str, **context: Any) -> str:
        template = self.get(name)
        try:
            return template.render(**context)
        except jinja2.TemplateError as exc:
            line = _template_line(exc, template)
            where = self._where(template.filename or name, line)
            raise TemplateError(f"{where}: {exc}") from exc

    def origin(self, name: str) -> str:
        """'override' when the project's templates/ folder supplies `name`, else 'built-in'."""
        if self.override_dir is not None and (self.override_dir / name).is_file():
            return "override"
        return "built-in"

    @staticmethod
    def _where(filename: str, line: int | None) -> str:
        return f"{filename}:{line}" if line else filename


def _template_line(exc: BaseException, template: jinja2.Template) -> int | None:
    """The template line a render-time error points at (Jinja rewrites frames to template lines)."""
    filename = template.filename or "<template>"
    traceback = exc.__traceback__
    line: int | None = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == filename:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line

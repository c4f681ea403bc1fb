"""Jinja environments: the project's templates/ folder first, then the built-in templates.

HTML and XML templates autoescape every value; Markdown templates escape every value for
Markdown; plain-text templates (`.txt.j2`, such as the spoken intro and outro) insert values as
they are. Values already marked safe (markupsafe.Markup) pass through untouched.

Templates are not trusted code: a pull request may change them, and CI renders pull requests.
So every template renders in Jinja's immutable sandbox (no access to Python internals such as
`__class__` or `__globals__`, no calls that change data, the show's values only), and the
project's templates are read only from regular files inside the templates folder: a template
that is a symbolic link leading elsewhere is refused.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from acbatch.project.cache import regular_file_digest
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


def _plain_text(name: str) -> bool:
    base = name[:-3] if name.endswith(".j2") else name
    return base.lower().endswith(".txt")


class _ConfinedLoader(jinja2.FileSystemLoader):
    """The project's templates folder, never a file outside it (through a link or `..`)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(str(folder))
        self.folder = folder.resolve()

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        if not Path(filename).resolve().is_relative_to(self.folder):
            raise TemplateError(
                f"{filename}: the template leads outside the templates folder through a "
                "symbolic link; templates must be regular files inside it"
            )
        return source, filename, uptodate


def _folder_listing(folder: Path | None) -> tuple[tuple[str, str], ...]:
    """Every file under `folder` with a digest of its bytes (empty when there is no folder)."""
    if folder is None:
        return ()
    listing = []
    for parent, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(parent, name)
            try:
                found = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(found.st_mode):
                listing.append((path, regular_file_digest(path) or "unreadable"))
            else:  # never read through a link or a device
                listing.append((path, f"{found.st_mode}:{found.st_mtime_ns}"))
    return tuple(sorted(listing))


@functools.lru_cache(maxsize=8)
def _shared_templates(
    override_dir: Path | None, _listing: tuple[tuple[str, str], ...]
) -> Templates:
    return Templates(override_dir)


class Templates:
    """Loads a template by name from the override folder or the package, and renders it."""

    @classmethod
    def shared(cls, override_dir: Path | None) -> Templates:
        """The process's Templates for `override_dir` while no file in it changed (by content,
        not by a modification time that may not move): templates
        are compiled, and their fields found, once per process rather than per render (a run
        renders each episode as it finishes, then the show)."""
        return _shared_templates(override_dir, _folder_listing(override_dir))

    def __init__(self, override_dir: Path | None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        self.override_dir = override_dir
        if override_dir is not None and override_dir.is_dir():
            loaders.append(_ConfinedLoader(override_dir))
        loaders.append(jinja2.PackageLoader(BUILTIN_PACKAGE, BUILTIN_FOLDER))
        loader = jinja2.ChoiceLoader(loaders)
        self._renderers: dict[str, Callable[[dict[str, Any]], str]] = {}
        self._fields: dict[tuple[tuple[str, ...], str], frozenset[str] | None] = {}
        common: dict[str, Any] = {
            "loader": loader,
            "undefined": jinja2.StrictUndefined,
            "keep_trailing_newline": True,
            "trim_blocks": True,
            "lstrip_blocks": True,
        }
        # View values are cleaned (XML-legal) when views are built, so markup needs no finalize.
        self.markup_env = ImmutableSandboxedEnvironment(autoescape=_autoescape, **common)
        self.markdown_env = ImmutableSandboxedEnvironment(
            autoescape=False, finalize=markdown_escape, **common
        )
        self.text_env = ImmutableSandboxedEnvironment(autoescape=False, **common)
        for env in (self.markup_env, self.markdown_env, self.text_env):
            env.filters["clock"] = clock
            env.filters["cdata"] = cdata
            env.filters["urlpath"] = quote_relpath

    def _env(self, name: str) -> jinja2.Environment:
        if _plain_text(name):
            return self.text_env
        return self.markup_env if _autoescape(name) else self.markdown_env

    def get(self, name: str) -> jinja2.Template:
        env = self._env(name)
        try:
            return env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            where = self._where(exc.filename or name, exc.lineno)
            raise TemplateError(f"{where}: {exc.message}") from exc
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"template '{exc.name}' not found") from exc

    def source(self, name: str) -> str:
        """The template's text (for change detection); empty when it cannot be loaded."""
        env = self._env(name)
        try:
            text, _filename, _uptodate = env.loader.get_source(env, name)  # type: ignore[union-attr]
        except jinja2.TemplateNotFound:
            return ""
        return text

    def render(self, name: str, **context: Any) -> str:
        return self.renderer(name)(context)

    def renderer(self, name: str) -> Callable[[dict[str, Any]], str]:
        """A function rendering template `name` with a context dict, for rendering it often.

        The template is looked up once (a lookup checks the file's modification time); errors
        name the template file and line.
        """
        known = self._renderers.get(name)
        if known is not None:
            return known
        template = self.get(name)

        def render(context: dict[str, Any]) -> str:
            try:
                return template.render(context)
            except jinja2.TemplateError as exc:
                line = _template_line(exc, template)
                where = self._where(template.filename or name, line)
                raise TemplateError(f"{where}: {exc}") from exc

        self._renderers[name] = render
        return render

    def stream(self, name: str, context: dict[str, Any]) -> Iterator[str]:
        """Template `name` rendered piece by piece (a large page never sits in one string)."""
        template = self.get(name)
        try:
            yield from template.generate(context)
        except jinja2.TemplateError as exc:
            line = _template_line(exc, template)
            where = self._where(template.filename or name, line)
            raise TemplateError(f"{where}: {exc}") from exc

    def fields_read(self, names: Sequence[str], variable: str) -> frozenset[str] | None:
        """The `<variable>.<field>` names templates `names` (and what they include) can read.

        None when some template uses the variable otherwise (loops over it, passes it on,
        rebinds it) or cannot be parsed: then any field may matter.
        """
        key = (tuple(names), variable)
        if key not in self._fields:
            self._fields[key] = self._find_fields(names, variable)
        return self._fields[key]

    def _find_fields(self, names: Sequence[str], variable: str) -> frozenset[str] | None:
        fields: set[str] = set()
        pending = list(names)
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            source = self.source(name)
            if not source:
                continue
            env = self._env(name)
            try:
                tree = env.parse(source)
            except jinja2.TemplateSyntaxError:
                return None
            included = _referenced_templates(tree)
            used = _attributes_of(tree, variable)
            if included is None or used is None:
                return None
            pending += included
            fields |= used
        return frozenset(fields)

    def variables_read(self, name: str) -> frozenset[str] | None:
        """The top-level values template `name` reads; None when it cannot be told (it
        includes or imports another template, or cannot be parsed): then any value may matter."""
        from jinja2 import meta

        source = self.source(name)
        try:
            tree = self._env(name).parse(source)
        except jinja2.TemplateSyntaxError:
            return None
        if _referenced_templates(tree):
            return None
        return frozenset(meta.find_undeclared_variables(tree))

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


def _referenced_templates(tree: nodes.Template) -> list[str] | None:
    """Names of the templates `tree` includes, imports or extends; None if one is computed."""
    names: list[str] = []
    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        target = node.template  # type: ignore[attr-defined]  # every node found has one
        value = target.value if isinstance(target, nodes.Const) else None
        if isinstance(value, str):
            names.append(value)
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            names += value
        else:
            return None
    return names


def _attributes_of(tree: nodes.Template, variable: str) -> set[str] | None:
    """Attributes read from `variable` (`x.a`, `x["a"]`); None if it is used any other way."""
    attributes: set[str] = set()
    bases: set[int] = set()
    for getattr_node in tree.find_all(nodes.Getattr):
        base = getattr_node.node
        if isinstance(base, nodes.Name) and base.name == variable:
            attributes.add(getattr_node.attr)
            bases.add(id(base))
    for getitem_node in tree.find_all(nodes.Getitem):
        base, arg = getitem_node.node, getitem_node.arg
        key = arg.value if isinstance(arg, nodes.Const) else None
        if isinstance(base, nodes.Name) and base.name == variable:
            if not isinstance(key, str):
                return None
            attributes.add(key)
            bases.add(id(base))
    for name in tree.find_all(nodes.Name):
        if name.name == variable and id(name) not in bases:
            return None
    return attributes

"""`acbatch doctor`'s checks: each says what it saw and, when something is wrong, what to do."""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from acbatch.api import errors
from acbatch.api.client import PodcastClient
from acbatch.api.settings import ENV_KEY, resolve_api_settings
from acbatch.context import Context
from acbatch.wording import plural

PROBE_TASK = "acbatch-doctor-probe"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    skipped: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "check": self.name,
            "ok": self.ok,
            "skipped": self.skipped,
            "detail": self.detail,
            "fix": self.fix,
        }


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 10)
    return Check("python", ok, f"Python {version}", "" if ok else "install Python 3.10 or newer")


def check_project(ctx: Context) -> tuple[Check, object | None]:
    if not ctx.config_path.exists():
        return Check(
            "project",
            False,
            f"no acbatch.yaml in {ctx.root}",
            "run `acbatch init` or pass -C DIR",
        ), None
    project = ctx.load_project()
    if project.errors:
        return Check(
            "project",
            False,
            f"{len(project.errors)} validation problems",
            "run `acbatch validate` and fix what it lists",
        ), project
    return Check("project", True, f"{len(project.episodes)} valid episodes"), project


def check_service(base_url: str | None) -> list[Check]:
    settings = resolve_api_settings(option_base_url=base_url)
    if settings.key is None:
        return [
            Check(
                "api key",
                False,
                f"{ENV_KEY} is not set",
                f"export {ENV_KEY}=... (or use `acbatch run --sandbox` to try things offline)",
            ),
            Check("api host", True, settings.base_url, skipped=True),
        ]
    client = PodcastClient(settings.key, settings.base_url, connect_timeout=5, read_timeout=15)
    host = settings.base_url
    try:
        # A status call on a task that cannot exist is read-only and checks the key.
        client.get_script(PROBE_TASK)
    except errors.TaskNotFound:
        return [
            Check("api host", True, f"{host} answers"),
            Check("api key", True, "accepted (a read-only status call answered 101008)"),
        ]
    except errors.UnusableApiKey as exc:
        return [
            Check("api host", True, "not contacted: the key cannot be sent", skipped=True),
            Check("api key", False, str(exc), f"set {ENV_KEY} to the key exactly as issued"),
        ]
    except errors.InvalidApiKey:
        return [
            Check("api host", True, f"{host} answers"),
            Check("api key", False, "rejected (101002)", f"check the value of {ENV_KEY}"),
        ]
    except errors.AccountSuspended:
        return [
            Check("api host", True, f"{host} answers"),
            Check("api key", False, "the account is suspended (101005)", "contact audiocleaner.ai"),
        ]
    except errors.TransportError as exc:
        return [
            Check("api host", False, f"{host}: {exc}", "check the network and api.base_url"),
            Check("api key", True, "not checked: the host did not answer", skipped=True),
        ]
    except errors.ApiError as exc:
        return [
            Check("api host", True, f"{host} answers"),
            Check("api key", False, f"unexpected answer: {exc}", "see docs/troubleshooting.md"),
        ]
    finally:
        client.close()
    return [
        Check("api host", True, f"{host} answers"),
        Check("api key", True, "accepted"),
    ]


def check_synthesis() -> Check:
    try:
        from acbatch.sandbox.catalog import profile_for_voice_id
        from acbatch.sandbox.tts import synthesize

        speech = synthesize([("acbatch doctor.", profile_for_voice_id("sandbox/ava", "en", 0))])
    except Exception as exc:  # any failure here is the finding itself
        return Check(
            "sandbox speech",
            False,
            f"offline speech failed: {exc}",
            "reinstall acbatch (espeakng-loader and lameenc wheels)",
        )
    return Check("sandbox speech", True, f"{speech.duration:.1f} s of speech synthesized")


def _is_local(base_url: str) -> bool:
    """A host on this machine: a sandbox or a test double, where demo voices are fine."""
    import ipaddress
    from urllib.parse import urlsplit

    host = (urlsplit(base_url).hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_voices(project: object, base_url: str | None = None) -> Check:
    """What a live run would send: the same findings as `acbatch validate --live`.

    Against a host on this machine (a sandbox), sandbox-only voices are reported but do not
    fail the check; against any other host they do.
    """
    from acbatch.voices import REAL_CATALOG_HOWTO, CatalogError, VoiceCatalog, live_catalog_problems

    path = project.config.paths.voices  # type: ignore[attr-defined]
    if not path.is_file():
        return Check("voice catalog", True, f"no {path.name}: specs use numeric speaker ids")
    try:
        catalog = VoiceCatalog.load(path)
    except CatalogError as exc:
        return Check("voice catalog", False, str(exc), REAL_CATALOG_HOWTO)
    problems = live_catalog_problems(project)  # type: ignore[arg-type]
    errors = [p for p in problems if p.severity == "error"]
    warnings = len(problems) - len(errors)
    kind = "the sandbox's demo catalog" if catalog.sandbox else "your account's catalog"
    detail = f"{path.name}: {plural(len(catalog), 'voice')}, {kind}"
    if errors:
        first = errors[0]
        local = base_url is not None and _is_local(base_url)
        return Check(
            "voice catalog",
            local,
            f"{detail}; {len(errors)} sandbox-only voice uses would be refused by a live run "
            f"(first: {first.file.name}:{first.line} {first.field})",
            REAL_CATALOG_HOWTO + "; `acbatch validate --live` lists every place",
        )
    if warnings:
        detail += f"; {warnings} warning{'s' if warnings != 1 else ''} (acbatch validate --live)"
    return Check("voice catalog", True, detail)


def check_writable(folder: Path, name: str) -> Check:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".acbatch-doctor-"):
            pass
    except OSError as exc:
        return Check(name, False, f"{folder}: {exc.strerror or exc}", f"make {folder} writable")
    return Check(name, True, f"{folder} is writable")


def run_checks(ctx: Context, base_url: str | None) -> list[Check]:
    checks = [check_python()]
    project_check, project = check_project(ctx)
    checks.append(project_check)
    checks += check_service(base_url)
    checks.append(check_synthesis())
    # Only a valid project's folders: an invalid one may point outside the project.
    if project is not None and not project.errors:  # type: ignore[attr-defined]
        paths = project.config.paths  # type: ignore[attr-defined]
        host = resolve_api_settings(option_base_url=base_url).base_url
        checks.append(check_voices(project, host))
        checks.append(check_writable(paths.output, "output folder"))
        checks.append(check_writable(paths.state, "state folder"))
    return checks

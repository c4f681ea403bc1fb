"""The git state backend: state commits pushed to a remote while a run goes on, and a lock ref.

Nothing here touches the working tree, the index or HEAD of the checkout: commits are built
with a private index file on top of the remote branch's tip (`read-tree`, `update-index`,
`write-tree`, `commit-tree`) and pushed by commit id. When the push is rejected because the
branch moved (someone merged a spec during the run), the tip is fetched again and the same
state files are laid over it: each episode has its own file, so this rebase never conflicts.

A state file on the remote is only ever replaced by a copy that is at least as new (by its
`updated_at`), so a stale checkout can never push old state over newer state. Other files
(review scripts) are only added, never replaced: their remote copy may hold a reviewer's edits.

The lock is a ref, `refs/acbatch/locks/<branch>`, created with `--force-with-lease=<ref>:`
(which succeeds only if the ref does not exist), so two machines can never both create it.
Its commit message carries the holder's host, pid, run and the time it was last renewed; a
lock not renewed within `lock_stale_after`, or whose holder is a dead process on this host,
is taken over with a lease on the stale commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acbatch.constants import TIMESTAMP_FORMAT
from acbatch.errors import LockHeld, UserError
from acbatch.statesync.settings import GitSettings
from acbatch.store import atomic_write_bytes

COMMIT_MESSAGE = "acbatch: save episode state [skip ci]"
LOCK_MESSAGE = "acbatch: state lock"
DEFAULT_NAME = "acbatch"
DEFAULT_EMAIL = "acbatch@users.noreply.github.com"
PUSH_ATTEMPTS = 12
GIT_TIMEOUT = 120.0
_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


class GitStateError(UserError):
    """A git operation of the state backend failed."""


def _scrub(text: str) -> str:
    """Git messages name remote URLs, which may carry a token (https://user:token@host)."""
    return _CREDENTIALS.sub(r"\1***@", text.strip())


@dataclass(frozen=True)
class TrackedFile:
    """A file the backend keeps on the remote: where it is here and its path in the repo."""

    local: Path
    repo_path: str
    is_state: bool


class Git:
    """`git` in one checkout, never prompting, with an identity for the commits it makes."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        if not self.run("config", "user.name", check=False).strip():
            self.env.setdefault("GIT_AUTHOR_NAME", DEFAULT_NAME)
            self.env.setdefault("GIT_COMMITTER_NAME", DEFAULT_NAME)
        if not self.run("config", "user.email", check=False).strip():
            self.env.setdefault("GIT_AUTHOR_EMAIL", DEFAULT_EMAIL)
            self.env.setdefault("GIT_COMMITTER_EMAIL", DEFAULT_EMAIL)

    def call(
        self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        if shutil.which("git") is None:
            raise GitStateError("the git state backend needs git, which is not installed")
        try:
            return subprocess.run(
                ["git", *args],
                cwd=self.cwd,
                input=input,
                env={**self.env, **(env or {})},
                capture_output=True,
                timeout=GIT_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitStateError(f"git {args[0]} took longer than {GIT_TIMEOUT:.0f} s") from None

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> str:
        done = self.call(*args, input=input, env=env)
        if check and done.returncode != 0:
            message = _scrub(done.stderr.decode("utf-8", "replace")) or f"exit {done.returncode}"
            raise GitStateError(f"git {args[0]} failed: {message.splitlines()[-1]}")
        return done.stdout.decode("utf-8", "replace")


class GitStateRemote:
    """The state files of one project on one branch of one remote."""

    def __init__(self, root: Path, state_folder: Path, specs: Path, settings: GitSettings) -> None:
        self.git = Git(root)
        top = self.git.call("rev-parse", "--show-toplevel")
        if top.returncode != 0:
            raise GitStateError(
                f"the git state backend needs a git checkout, and {root} is not in one "
                "(set state.backend to local, or unset ACBATCH_STATE_BACKEND)"
            )
        self.toplevel = Path(top.stdout.decode().strip()).resolve()
        self.settings = settings
        self.remote = settings.remote
        if self.git.call("remote", "get-url", self.remote).returncode != 0:
            raise GitStateError(
                f"the git state backend pushes to remote {self.remote!r}, which is not set up"
            )
        self.branch = settings.branch or self._checked_out_branch()
        self.state_folder = state_folder
        self.state_path = self._repo_path(state_folder)
        self.specs = specs
        self.tracking_ref = f"refs/acbatch/state-tip/{self.branch}"
        sha256 = self.git.run("rev-parse", "--show-object-format", check=False).strip() == "sha256"
        self._hash = hashlib.sha256 if sha256 else hashlib.sha1
        self.tip: str | None = None

    @property
    def where(self) -> str:
        return f"{self.remote}/{self.branch}"

    def _checked_out_branch(self) -> str:
        done = self.git.call("symbolic-ref", "--quiet", "--short", "HEAD")
        if done.returncode == 0:
            return done.stdout.decode().strip()
        # A detached checkout in CI: the branch the workflow runs for.
        if os.environ.get("GITHUB_REF_TYPE") == "branch" and os.environ.get("GITHUB_REF_NAME"):
            return os.environ["GITHUB_REF_NAME"]
        raise GitStateError(
            "the checkout is on no branch, so the git state backend does not know where to push; "
            "set state.git.branch in acbatch.yaml"
        )

    def _repo_path(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.toplevel).as_posix()
        except ValueError:
            raise GitStateError(f"{path} is outside the git checkout {self.toplevel}") from None

    # --- reading the remote -------------------------------------------------------------------

    def fetch_tip(self) -> str | None:
        """Fetch the branch; its tip commit, or None when the branch does not exist yet."""
        listed = self.git.run("ls-remote", self.remote, f"refs/heads/{self.branch}")
        sha = listed.split()[0] if listed.strip() else None
        if sha is not None and self.git.call("cat-file", "-e", f"{sha}^{{commit}}").returncode:
            self.git.run(
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-recurse-submodules",
                self.remote,
                f"+refs/heads/{self.branch}:{self.tracking_ref}",
            )
        self.tip = sha
        return sha

    def _remote_blobs(self, tip: str | None, folders: Iterable[str]) -> dict[str, str]:
        """repo path -> blob id of the files directly inside `folders` at `tip`."""
        if tip is None:
            return {}
        blobs: dict[str, str] = {}
        for folder in set(folders):
            listing = self.git.run("ls-tree", "-z", tip, "--", f"{folder}/")
            for entry in listing.split("\0"):
                if not entry:
                    continue
                meta, _, path = entry.partition("\t")
                mode, kind, sha = meta.split()
                if kind == "blob" and mode in ("100644", "100755"):
                    blobs[path] = sha
        return blobs

    def _blob(self, sha: str) -> bytes:
        return self.git.call("cat-file", "blob", sha).stdout

    def _blob_id(self, content: bytes) -> str:
        return self._hash(b"blob %d\0" % len(content) + content).hexdigest()

    # --- local files ----------------------------------------------------------------------------

    def state_files(self) -> list[TrackedFile]:
        files = []
        if self.state_folder.is_dir():
            for path in sorted(self.state_folder.glob("*.json")):
                if not path.name.startswith(".") and path.is_file():
                    files.append(TrackedFile(path, f"{self.state_path}/{path.name}", True))
        return files

    def review_files(self) -> list[TrackedFile]:
        files = []
        if self.specs.is_dir():
            for path in sorted(self.specs.rglob("*.script.yaml")):
                if path.is_file() and not path.is_symlink():
                    with contextlib.suppress(GitStateError):
                        files.append(TrackedFile(path, self._repo_path(path), False))
        return files

    def tracked(self, local: Path) -> TrackedFile | None:
        if local.parent.resolve() != self.state_folder.resolve() or local.suffix != ".json":
            return None
        return TrackedFile(local, f"{self.state_path}/{local.name}", True)

    # --- pull and push --------------------------------------------------------------------------

    def pull(self) -> list[str]:
        """Bring newer state files from the remote into the state folder; their names."""
        tip = self.fetch_tip()
        brought = []
        for repo_path, sha in sorted(self._remote_blobs(tip, [self.state_path]).items()):
            name = repo_path.rsplit("/", 1)[-1]
            if not name.endswith(".json") or name.startswith("."):
                continue
            local = self.state_folder / name
            remote_content = self._blob(sha)
            try:
                local_content = local.read_bytes()
            except FileNotFoundError:
                local_content = None
            if local_content == remote_content:
                continue
            if local_content is None or _updated_at(remote_content) > _updated_at(local_content):
                atomic_write_bytes(local, remote_content)
                brought.append(name)
        return brought

    def push(self, files: Iterable[TrackedFile]) -> int:
        """Push these files to the branch (fetching and rebuilding on rejection); files pushed."""
        wanted = {item.repo_path: item for item in files}
        if not wanted:
            return 0
        folders = {path.rsplit("/", 1)[0] for path in wanted}
        tip = self.tip if self.tip is not None else self.fetch_tip()
        for attempt in range(PUSH_ATTEMPTS):
            remote = self._remote_blobs(tip, folders)
            changes = self._changes(wanted.values(), remote)
            if not changes:
                return 0
            commit = self._commit(tip, changes)
            done = self.git.call(
                "push", "--porcelain", "--quiet", self.remote, f"{commit}:refs/heads/{self.branch}"
            )
            if done.returncode == 0:
                self.tip = commit
                self.git.call("update-ref", self.tracking_ref, commit)
                return len(changes)
            output = (done.stdout + done.stderr).decode("utf-8", "replace")
            if "[rejected]" not in output and "[remote rejected]" not in output:
                last = (_scrub(output).splitlines() or [f"exit {done.returncode}"])[-1]
                raise GitStateError(f"cannot push state to {self.where}: {last}")
            # The branch moved under us: rebuild the same files on its new tip.
            time.sleep(min(0.1 * 2**attempt, 2.0))
            tip = self.fetch_tip()
        raise GitStateError(f"cannot push state to {self.where}: the branch keeps moving")

    def _changes(self, files: Iterable[TrackedFile], remote: dict[str, str]) -> dict[str, bytes]:
        changes: dict[str, bytes] = {}
        for item in files:
            try:
                content = item.local.read_bytes()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise GitStateError(f"cannot read {item.local}: {exc.strerror or exc}") from None
            remote_sha = remote.get(item.repo_path)
            if remote_sha == self._blob_id(content):
                continue
            if remote_sha is not None:
                if not item.is_state:
                    continue  # a review script on the remote may hold a reviewer's edits
                if _updated_at(self._blob(remote_sha)) > _updated_at(content):
                    continue  # never replace newer state with older
            changes[item.repo_path] = content
        return changes

    def _commit(self, tip: str | None, changes: dict[str, bytes]) -> str:
        lines = []
        for repo_path, content in sorted(changes.items()):
            sha = self.git.run("hash-object", "-w", "--stdin", input=content).strip()
            lines.append(f"100644 {sha}\t{repo_path}")
        with tempfile.TemporaryDirectory(prefix="acbatch-index-") as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            if tip is None:
                self.git.run("read-tree", "--empty", env=env)
            else:
                self.git.run("read-tree", tip, env=env)
            self.git.run(
                "update-index", "--index-info", input="\n".join(lines).encode() + b"\n", env=env
            )
            tree = self.git.run("write-tree", env=env).strip()
        parents = ["-p", tip] if tip is not None else []
        names = ", ".join(path.rsplit("/", 1)[-1] for path in sorted(changes)[:5])
        more = f" and {len(changes) - 5} more" if len(changes) > 5 else ""
        message = f"{COMMIT_MESSAGE}\n\n{names}{more}\n"
        return self.git.run("commit-tree", tree, *parents, "-m", message).strip()


def _updated_at(content: bytes) -> str:
    try:
        data = json.loads(content)
    except ValueError:
        return ""
    value = data.get("updated_at") if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


# --- the lock ---------------------------------------------------------------------------------


@dataclass
class Holder:
    host: str
    pid: int
    started: str
    renewed: float
    run: str = ""

    def describe(self, now: float) -> str:
        age = max(0, int(now - self.renewed))
        where = f"pid {self.pid} on {self.host}"
        if self.run:
            where += f", {self.run}"
        return f"{where}, started {self.started}, renewed {age} s ago"

    @classmethod
    def parse(cls, message: str) -> Holder | None:
        _, _, body = message.partition("\n\n")
        try:
            data: Any = json.loads(body)
            return cls(
                str(data["host"]),
                int(data["pid"]),
                str(data["started"]),
                float(data["renewed"]),
                str(data.get("run") or ""),
            )
        except (ValueError, KeyError, TypeError):
            return None


def _ci_run() -> str:
    server, repo, run = (
        os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RemoteLock:
    """One run at a time per remote branch, across machines.

    A whole run holds `refs/acbatch/locks/<branch>`; shard K of N of a CI matrix holds
    `refs/acbatch/shard-locks/<branch>/K-of-N`, so the shards of one matrix (which write disjoint
    state files) run at once, while a whole run and any shard keep each other out. Each takes its
    own ref first and then looks for the other kind: a live one makes it give its ref back, so
    two conflicting runs can both back off but never both go on.
    """

    def __init__(self, remote: GitStateRemote, shard: tuple[int, int] | None = None) -> None:
        self.remote = remote
        self.git = remote.git
        branch = remote.branch
        if shard is None:
            self.ref = f"refs/acbatch/locks/{branch}"
            self.conflicting = f"refs/acbatch/shard-locks/{branch}/*"
        else:
            self.ref = f"refs/acbatch/shard-locks/{branch}/{shard[0]}-of-{shard[1]}"
            self.conflicting = f"refs/acbatch/locks/{branch}"
        self.commit: str | None = None
        self.renewed = 0.0
        self.lost = False
        self.started = time.strftime(TIMESTAMP_FORMAT, time.gmtime())

    def _lock_commit(self, parent: str | None) -> str:
        now = time.time()
        holder = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": self.started,
            "renewed": now,
            "run": _ci_run(),
        }
        tree = self.git.run("mktree", input=b"").strip()
        parents = ["-p", parent] if parent else []
        message = f"{LOCK_MESSAGE}\n\n{json.dumps(holder, sort_keys=True)}\n"
        self.renewed = now
        return self.git.run("commit-tree", tree, *parents, "-m", message).strip()

    def _push(self, commit: str | None, expect: str, ref: str | None = None) -> bool:
        """Set (or with no commit, delete) a lock ref only if it is `expect` ('' = absent)."""
        ref = ref or self.ref
        source = f"{commit}:{ref}" if commit else f":{ref}"
        done = self.git.call(
            "push",
            "--porcelain",
            "--quiet",
            f"--force-with-lease={ref}:{expect}",
            self.remote.remote,
            source,
        )
        return done.returncode == 0

    def _listed(self, pattern: str) -> list[tuple[str, str]]:
        """(ref, commit) of the remote's refs matching `pattern`."""
        listed = self.git.run("ls-remote", self.remote.remote, pattern)
        pairs = []
        for line in listed.splitlines():
            sha, _, ref = line.partition("\t")
            if sha and ref:
                pairs.append((ref.strip(), sha.strip()))
        return pairs

    def _holder(self, ref: str, sha: str) -> Holder | None:
        if self.git.call("cat-file", "-e", f"{sha}^{{commit}}").returncode:
            fetched = self.git.call(
                "fetch",
                "--quiet",
                "--no-tags",
                self.remote.remote,
                f"+{ref}:refs/acbatch/seen-lock",
            )
            if fetched.returncode:
                return None
        return Holder.parse(self.git.run("log", "-1", "--format=%B", sha, check=False))

    def _current(self) -> tuple[str | None, Holder | None]:
        listed = self._listed(self.ref)
        if not listed:
            return None, None
        ref, sha = listed[0]
        return sha, self._holder(ref, sha)

    def _stale(self, holder: Holder | None, now: float) -> bool:
        if holder is None:
            return False
        if holder.host == socket.gethostname() and not _pid_alive(holder.pid):
            return True
        return now - holder.renewed > self.remote.settings.lock_stale_after

    def _took_over(self, holder: Holder | None, now: float, note: Any) -> None:
        if note is not None and holder is not None:
            note(f"took over the stale state lock on {self.remote.where} ({holder.describe(now)})")

    def _attempt(self, note: Any) -> tuple[bool, Holder | None]:
        """One try: (True, None) when acquired, else (False, the live holder if known)."""
        commit = self._lock_commit(None)
        if not self._push(commit, ""):
            sha, holder = self._current()
            now = time.time()
            if sha is None:
                return False, None  # released between the attempt and the look
            if not self._stale(holder, now) or not self._push(commit, sha):
                return False, holder
            self._took_over(holder, now, note)
        self.commit = commit
        for ref, sha in self._listed(self.conflicting):
            holder = self._holder(ref, sha)
            now = time.time()
            if self._stale(holder, now) and self._push(None, sha, ref):
                self._took_over(holder, now, note)
                continue
            self.release()
            return False, holder
        return True, None

    def acquire(self, wait: float, note: Any = None) -> None:
        deadline = time.monotonic() + wait
        while True:
            acquired, holder = self._attempt(note)
            if acquired:
                return
            if holder is None and time.monotonic() < deadline + 5:
                time.sleep(0.2)  # the lock changed hands while we looked: look again
                continue
            if time.monotonic() >= deadline:
                who = holder.describe(time.time()) if holder else "another acbatch run"
                raise LockHeld(
                    f"another acbatch run holds the state lock on {self.remote.where} ({who}); "
                    "wait for it to finish"
                )
            time.sleep(min(2.0, max(0.05, deadline - time.monotonic())))

    def renew_if_due(self) -> None:
        if self.commit is None or self.lost:
            return
        if time.time() - self.renewed < self.remote.settings.lock_stale_after / 3:
            return
        commit = self._lock_commit(self.commit)
        if self._push(commit, self.commit):
            self.commit = commit
        else:
            sha, _ = self._current()
            self.lost = sha != self.commit

    def release(self) -> None:
        if self.commit is not None and not self.lost:
            self._push(None, self.commit)
        self.commit = None

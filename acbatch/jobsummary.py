"""A CI job summary (Markdown) of one `acbatch run --json` report.

    acbatch run --json > run.json; python -m acbatch.jobsummary run.json >> "$GITHUB_STEP_SUMMARY"

Lists every episode that did not finish (failed, uncertain, timed out, over budget, awaiting
review) with what to do, the episodes that finished, and the credits spent. A missing or
unreadable report (the run stopped before writing one) is said plainly rather than hidden.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HEADING = "## acbatch run"
PROBLEMS = ("failed", "uncertain", "timed_out", "aborted")
BUDGET = ("over_budget", "insufficient_credits")
ADVICE = {
    "failed": "fix the cause, then run again (a failed step is retried)",
    "uncertain": "the create may have reached the service: check your account, then "
    "`acbatch run --retry-uncertain ID` to send it again",
    "timed_out": "still waiting at the service: the next run resumes it without paying again",
    "aborted": "the run stopped before this episode finished: the next run resumes it",
    "over_budget": "left for a later run by api.max_credits",
    "insufficient_credits": "the account ran out of credits: top up, then run again",
    "awaiting_review": "review and approve the script (`acbatch approve ID`)",
}


def _cell(text: Any) -> str:
    """One table cell: no HTML, no table breaks, one line."""
    value = " ".join(str(text if text is not None else "").split())
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("`", "'")):
        value = value.replace(raw, safe)
    return value[:300]


def render_summary(report: Any, exit_code: str | None = None) -> str:
    lines = [HEADING, ""]
    if not isinstance(report, dict) or not isinstance(report.get("episodes"), list):
        shown = f" (exit code {exit_code})" if exit_code else ""
        lines.append(
            f"**The run wrote no report{shown}.** It stopped before its end (another run held "
            "the lock, the configuration is wrong, or the job was cancelled): see the Run step's "
            "log. State saved so far was pushed by the `Push state` step."
        )
        return "\n".join(lines) + "\n"
    episodes = [e for e in report["episodes"] if isinstance(e, dict)]
    credits = report.get("credits_charged", 0)
    by_outcome: dict[str, list[dict[str, Any]]] = {}
    for episode in episodes:
        by_outcome.setdefault(str(episode.get("outcome")), []).append(episode)
    problems = [e for o in (*PROBLEMS, *BUDGET, "awaiting_review") for e in by_outcome.get(o, [])]
    done = by_outcome.get("done", [])
    verdict = "finished" if not problems and not report.get("aborted") else "needs attention"
    lines.append(
        f"**{len(done)} of {len(episodes)} episodes done, {len(problems)} not finished; "
        f"{_cell(credits)} credits spent; run {verdict}.**"
    )
    if report.get("aborted"):
        lines += ["", f"The run stopped early: {_cell(report['aborted'])}"]
    if report.get("render_error"):
        lines += ["", f"Rendering failed: {_cell(report['render_error'])}"]
    if problems:
        lines += ["", "| episode | outcome | phase | credits | message | what to do |"]
        lines.append("|---|---|---|---:|---|---|")
        for episode in problems:
            outcome = str(episode.get("outcome"))
            lines.append(
                f"| {_cell(episode.get('id'))} | **{_cell(outcome)}** | "
                f"{_cell(episode.get('phase'))} | {_cell(episode.get('credits', 0))} | "
                f"{_cell(episode.get('message'))} | {_cell(ADVICE.get(outcome, ''))} |"
            )
    if done:
        lines += ["", "| finished episode | credits |", "|---|---:|"]
        lines += [f"| {_cell(e.get('id'))} | {_cell(e.get('credits', 0))} |" for e in done]
    drafts = report.get("drafts_skipped") or []
    if drafts:
        lines += ["", f"Drafts not run: {_cell(', '.join(str(d) for d in drafts))}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m acbatch.jobsummary RUN_JSON [EXIT_CODE]", file=sys.stderr)
        return 2
    try:
        report: Any = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = None
    sys.stdout.write(render_summary(report, args[1] if len(args) > 1 else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

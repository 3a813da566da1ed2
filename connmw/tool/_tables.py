"""Human-readable output of the ``connmw`` command: the probe table and the demo's
side-by-side comparison. Plain ASCII, at most 110 columns, no colour (output is often
pasted into issues and CI logs)."""

from __future__ import annotations

from collections.abc import Sequence

from ._findings import ERROR, INFO, WARNING
from .probe import CaseResult, Report

__all__ = ["codes", "render_probe", "side_by_side"]

_MARK = {ERROR: "ERROR", WARNING: "warn", "ok": "ok", "skipped": "-"}


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def connection_text(result: CaseResult) -> str:
    """The Connection lines received, ``|`` between lines, ``-`` for none."""
    if result.status is None:
        return "-"
    return " | ".join(result.connection) or "-"


def probe_table(report: Report) -> list[str]:
    """One row per case: status, Connection received, socket, verdict."""
    rows = [f"{'case':<34}{'status':<8}{'Connection received':<30}{'socket':<9}verdict"]
    for result in report.cases:
        status = str(result.status) if result.status is not None else "-"
        verdict = _MARK.get(result.verdict, result.verdict)
        if result.error:
            verdict += "  (" + _clip(result.error, 40) + ")"
        rows.append(
            f"{_clip(result.case.title, 33):<34}{status:<8}{_clip(connection_text(result), 29):<30}"
            f"{result.socket:<9}{verdict}"
        )
    return rows


def findings_block(report: Report) -> list[str]:
    """Findings grouped by (severity, code, message), each with its RFC and cases."""
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for result in report.cases:
        for finding in result.findings:
            key = (finding.severity, finding.code, finding.message, finding.rfc)
            groups.setdefault(key, []).append(result.case.title)
    order = {ERROR: 0, WARNING: 1, INFO: 2}
    lines: list[str] = []
    for (severity, code, message, rfc), cases in sorted(groups.items(), key=lambda item: order[item[0][0]]):
        label = {ERROR: "ERROR", WARNING: "warning", INFO: "note"}[severity]
        lines.append(f"  {label:<8}{code}  [{rfc}]")
        lines.append(f"          {message}")
        lines.append(f"          in: {_clip(', '.join(cases), 88)}")
    return lines


def summary_line(report: Report, code: int) -> str:
    """``3 errors, 1 warning, 2 notes -> exit 1``."""
    counts = [
        (report.count(ERROR), "error"),
        (report.count(WARNING), "warning"),
        (report.count(INFO), "note"),
    ]
    parts = [f"{count} {word}{'s' if count != 1 else ''}" for count, word in counts]
    word = ("clean", "findings", "not probed")[code]
    return f"{', '.join(parts)} -> {word} (exit {code})"


def render_probe(report: Report, code: int, heading: str, seconds: float, notes: Sequence[str] = ()) -> str:
    """The whole human report for ``probe`` and ``check`` (``notes``: lines under the heading)."""
    took = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
    lines = [f"{heading}   ({len(report.cases)} cases, {took})", *notes, "", *probe_table(report)]
    block = findings_block(report)
    if block:
        lines += ["", "findings", *block]
    lines += ["", summary_line(report, code)]
    return "\n".join(lines)


CELL = 38


def cell(result: CaseResult | None) -> str:
    """A demo cell of :data:`CELL` columns: status, Connection, socket, verdict."""
    if result is None:
        return "-".ljust(CELL)
    if result.status is None:
        return _clip(f"failed: {result.error}", CELL).ljust(CELL)
    mark = _MARK.get(result.verdict, result.verdict)
    socket = "" if result.socket == "n/a" else result.socket
    return f"{result.status:<4}{_clip(connection_text(result), 20):<21}{socket:<8}{mark}".ljust(CELL)


def _wrapped(label: str, text: str, width: int = 100) -> list[str]:
    """``label text`` folded at commas to ``width`` columns, continuation indented."""
    lines: list[str] = []
    line = label
    for word in text.split(", "):
        piece = word if line == label else ", " + word
        if len(line) + len(piece) > width and line != label:
            lines.append(line + ",")
            line = " " * len(label) + word
        else:
            line += piece
    return [*lines, line]


def codes(report: Report | None) -> str:
    """Distinct finding codes of a report, errors first, for the demo's footers."""
    if report is None:
        return "not probed"
    seen: dict[str, str] = {}
    for result in report.cases:
        for finding in result.findings:
            if finding.severity != INFO:
                seen.setdefault(finding.code, finding.severity)
    ranked = sorted(seen.items(), key=lambda item: (item[1] != ERROR, item[0]))
    return ", ".join(f"{code}{'' if sev == ERROR else ' (warn)'}" for code, sev in ranked) or "none"


def side_by_side(
    title: Sequence[str], bare: Report | None, wrapped: Report | None, case_titles: Sequence[tuple[str, str]]
) -> list[str]:
    """One demo section: a row per case, bare on the left, wrapped on the right."""
    lines = [*title, f"  {'case':<28}{'bare':<{CELL + 2}}with connmw"]
    by_id = [
        {result.case.id: result for result in report.cases} if report else {} for report in (bare, wrapped)
    ]
    for case_id, case_title in case_titles:
        left, right = (mapping.get(case_id) for mapping in by_id)
        if left is None and right is None:
            continue
        lines.append(f"  {_clip(case_title, 27):<28}{cell(left)}  {cell(right).rstrip()}")
    lines += _wrapped("  findings, bare:        ", codes(bare))
    lines += _wrapped("  findings, with connmw: ", codes(wrapped))
    return lines

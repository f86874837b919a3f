"""Reports for people: one divergence side by side, one campaign's score, a summary table."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence

from .campaign import Finding, Tally
from .compare import Comparison
from .normalise import NORMALISATIONS

MIN_COLUMN = 30


def _width() -> int:
    return max(100, min(shutil.get_terminal_size((140, 40)).columns, 200))


def side_by_side(comparison: Comparison, width: int | None = None) -> str:
    """Every difference in ``comparison`` as a two-column table: left backend | right backend."""
    total = width or _width()
    column = max(MIN_COLUMN, (total - 5) // 2)
    lines = [f"  {comparison.left_name:<{column}} | {comparison.right_name}", "  " + "-" * column + "-+-" + "-" * column]
    for difference in comparison.differences:
        where = f" ({difference.where})" if difference.where else ""
        lines.append(f"  {difference.aspect}{where}:")
        left = textwrap.wrap(difference.left, column) or [""]
        right = textwrap.wrap(difference.right, column) or [""]
        for index in range(max(len(left), len(right))):
            a = left[index] if index < len(left) else ""
            b = right[index] if index < len(right) else ""
            lines.append(f"    {a:<{column - 2}} | {b}")
    return "\n".join(lines)


def format_finding(finding: Finding) -> str:
    """One divergence: what differs, the minimal example, both sides' values."""
    comparison = finding.comparison
    parts = [
        f"DIVERGENCE in {finding.subject}: {finding.signature}",
        "example:",
        textwrap.indent(finding.example, "  "),
        "differences:",
        side_by_side(comparison),
    ]
    if comparison.normalised:
        parts.append("normalised before comparing: " + ", ".join(n.name for n in comparison.normalised))
    return "\n".join(parts)


def format_tally(tally: Tally) -> str:
    """One campaign's score and every divergence it found (each with its minimal example)."""
    lines = [f"== {tally.subject}: {tally.runs} runs in {tally.elapsed:.1f} s (shrinking included)"
             + (f", seed {tally.seed}" if tally.seed is not None else "")]
    lines.append(f"   agreed: {tally.agreed}")
    for reason, count in sorted(tally.inconclusive.items()):
        lines.append(f"   inconclusive ({reason}): {count}")
    for reason, count in sorted(tally.skipped.items()):
        lines.append(f"   skipped ({reason}): {count}")
    if tally.normalised:
        lines.append("   normalisations applied: " + ", ".join(f"{n} x{c}" for n, c in sorted(tally.normalised.items())))
    if tally.findings:
        lines.append(f"   DIVERGENCES: {len(tally.findings)} (each shrunk to a minimal example)")
        for finding in tally.findings.values():
            lines.append("")
            lines.append(textwrap.indent(format_finding(finding), "   "))
    else:
        lines.append("   no divergence")
    return "\n".join(lines)


def summary_table(tallies: Sequence[Tally]) -> str:
    """The end-of-campaign table: one row per subject, then the totals."""
    headers = ("subject", "runs", "agreed", "inconclusive", "skipped", "divergences", "seconds")
    rows = [
        (t.subject, str(t.runs), str(t.agreed), str(sum(t.inconclusive.values())), str(sum(t.skipped.values())),
         str(t.diverged), f"{t.elapsed:.1f}")
        for t in tallies
    ]
    totals = ("TOTAL", *(str(sum(int(r[i]) for r in rows)) for i in range(1, 6)), f"{sum(t.elapsed for t in tallies):.1f}")
    widths = [max(len(h), *(len(r[i]) for r in [*rows, totals])) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows), rule, line(totals)])


def normalisations_manual() -> str:
    """The named normalisations, for ``--help`` and the campaign's header."""
    return "\n".join(f"  {n.name}: {n.hides}." for n in NORMALISATIONS)

"""RESULTS.md: the latest figures as ratios to the references, with how they were made."""

from __future__ import annotations

from bench.judging import target_checks
from bench.metrics import Metric, Section, sections
from bench.plan import Plan
from bench.results import Results, Value, ratio
from bench.targets import ABLATIONS, TARGETS


def fmt(value: Value, decimals: int) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.{decimals}f}"


def fmt_ratio(value: Value) -> str:
    return "—" if value is None else f"{value:.2f}×"


def cell(results: Results, section: Section, metric: Metric, target: str) -> str:
    value = results.median(metric.key, target)
    if value is not None:
        return fmt(value, metric.decimals)
    problem = results.problems.get(section.scenario, {}).get(target, "")
    return problem.split(":", 1)[0] if problem else "—"


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def section_table(results: Results, section: Section) -> list[str]:
    """Ours next to the references, and ours ÷ each of them."""
    targets = [t for t in results.targets if t not in ABLATIONS]
    references = [t for t in targets if t != "ours"] if "ours" in targets else []
    head = ["metric", "unit", "", *(TARGETS[t].label for t in targets)]
    head += [f"ours ÷ {TARGETS[t].label}" for t in references]
    lines = [row(head), "|" + "---|" * len(head)]
    for metric in section.metrics:
        if metric.key not in results.values:  # not measured by this run (e.g. an older harness)
            continue
        cells = [metric.label, metric.unit, metric.arrow]
        cells += [cell(results, section, metric, t) for t in targets]
        for ref in references:
            both = ratio(results.median(metric.key, "ours"), results.median(metric.key, ref))
            cells.append(fmt_ratio(both) if metric.better else "")
        lines.append(row(cells))
    return lines


def changes_table(results: Results, plan: Plan) -> list[str]:
    """Ours next to itself before round 2 and with one change switched off."""
    variants = [t for t in ABLATIONS if t in results.targets]
    if "ours" not in results.targets or not variants:
        return []
    head = ["metric", "unit", "", "ours"]
    for variant in variants:
        head += [TARGETS[variant].label, f"ours ÷ {TARGETS[variant].label}"]
    lines = [row(head), "|" + "---|" * len(head)]
    for section in sections(plan):
        for metric in section.metrics:
            ours = results.median(metric.key, "ours")
            if not metric.better or ours is None:
                continue
            cells = [
                f"{section.scenario}: {metric.label}",
                metric.unit,
                metric.arrow,
                fmt(ours, metric.decimals),
            ]
            for variant in variants:
                theirs = results.median(metric.key, variant)
                cells += [fmt(theirs, metric.decimals), fmt_ratio(ratio(ours, theirs))]
            if any(c != "—" for c in cells[4::2]):
                lines.append(row(cells))
    return lines


def problems(results: Results, scenario: str) -> list[str]:
    found = results.problems.get(scenario, {})
    return [f"- {TARGETS[t].label}: {text}" for t, text in found.items()]


def profile_lines(results: Results) -> list[str]:
    prof = results.profile
    if not prof:
        return []
    lines = ["## Profile of ours", "", prof["what"], ""]
    if prof.get("error"):
        return [*lines, f"Profiling failed: {prof['error']}", ""]
    lines += [
        f"{prof['samples']:,} samples; {prof['gc']:.1f} % of them inside CPython's cyclic garbage collector.",
        "",
    ]
    views = (
        ("Innermost Python function (its own code and the C it calls)", "python"),
        ("Innermost frame, native included (syscalls, allocation, GC)", "leaf"),
        ("Inclusive time of Python functions (event-loop scaffolding left out)", "inclusive"),
        ("What triggered the garbage collector (the frame calling it)", "gc_callers"),
    )
    for title, key in views:
        if not prof.get(key):
            continue
        lines += [f"{title}, top {len(prof[key])}:", "", "| % of samples | function |", "|---|---|"]
        lines += [f"| {pct:.1f} | `{name}` |" for pct, name in prof[key]]
        lines.append("")
    return lines


def runs_table(results: Results, plan: Plan) -> list[str]:
    head = ["metric", *(TARGETS[t].label for t in results.targets)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for section in sections(plan):
        for metric in section.metrics:
            if metric.key not in results.values:
                continue
            row = [f"{section.title}, {metric.label}"]
            for t in results.targets:
                row.append(" / ".join(fmt(v, metric.decimals) for v in results.runs(metric.key, t)) or "—")
            lines.append("| " + " | ".join(row) + " |")
    return lines


def render(results: Results, plan: Plan) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run.py`; benchmarks, not tests. Each figure is the median of "
        f"{plan.runs} run(s); ratios are ours ÷ the reference from the same invocation "
        "(↑: higher is better, ↓: lower is better).",
        "",
        f"- Date: {results.started} to {results.finished} (UTC)",
        f"- Command: `{results.command}`",
        *(f"- {name}: {value}" for name, value in results.machine.items()),
        "",
        "Servers under test:",
        "",
        *(f"- **{TARGETS[t].label}**: {TARGETS[t].description}" for t in results.targets),
        "",
        "Per-message deflate is off on every server (the clients offer it, as socket.io-client does); "
        "pings every 25 s. Each client authenticates with its own real JWT; only ours verifies it.",
        "",
        "## Results",
        "",
    ]
    for section in sections(plan):
        if section.scenario not in plan.scenarios:
            continue
        lines += [f"### {section.title}", "", section.what, ""]
        if any(metric.key in results.values for metric in section.metrics):
            lines += [*section_table(results, section), ""]
        found = problems(results, section.scenario)
        if found:
            lines += ["Missing figures:", "", *found, ""]
    changes = changes_table(results, plan)
    if changes:
        lines += [
            "## What each change bought",
            "",
            "Ours against itself in the same invocation: before round 2 (`ours before`), and with one "
            "change switched off. ours ÷ variant above 1 on a ↑ row (below 1 on a ↓ row) is what the "
            "change bought.",
            "",
            *changes,
            "",
        ]
    if "ours" in results.targets:
        lines += ["## The issues' targets, judged from this run", "", *target_checks(results, plan), ""]
    if results.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in results.notes), ""]
    lines += profile_lines(results)
    lines += ["## Every run", "", *runs_table(results, plan), ""]
    return "\n".join(lines)

"""RESULTS.md: the latest figures as ratios to the references, with how they were made."""

from __future__ import annotations

from bench.metrics import Metric, Section, sections
from bench.plan import Plan
from bench.results import Results, Value, ratio
from bench.targets import TARGETS

HISTORY_NOTE = (
    "Not available yet: event history and resume (issue 6) are not built, so there is nothing to "
    "measure and no figure is reported. The scenario slot exists so the numbers land here once they are."
)


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


def section_table(results: Results, section: Section) -> list[str]:
    targets = results.targets
    references = [t for t in targets if t != "ours"] if "ours" in targets else []
    head = ["metric", "unit", "", *(TARGETS[t].label for t in targets)]
    head += [f"ours ÷ {TARGETS[t].label}" for t in references]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for metric in section.metrics:
        if metric.key not in results.values:  # not measured by this run (e.g. an older harness)
            continue
        row = [metric.label, metric.unit, metric.arrow]
        row += [cell(results, section, metric, t) for t in targets]
        for ref in references:
            both = ratio(results.median(metric.key, "ours"), results.median(metric.key, ref))
            row.append(fmt_ratio(both) if metric.better else "")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def problems(results: Results, scenario: str) -> list[str]:
    found = results.problems.get(scenario, {})
    return [f"- {TARGETS[t].label}: {text}" for t, text in found.items()]


def target_checks(results: Results, plan: Plan) -> list[str]:
    """The issue's targets, judged from this run's medians (only where measured)."""
    med = results.median
    checks: list[tuple[str, bool | None, str]] = []
    if 5000 in plan.sizes:
        ours, bare, node = (med("fanout.5000.rate", t) for t in ("ours", "python-socketio", "node"))
        r_bare, r_node = ratio(ours, bare), ratio(ours, node)
        if r_bare is not None:
            checks.append(("fan-out to 5,000: ≥ 5× bare python-socketio", r_bare >= 5, f"{r_bare:.2f}×"))
        if r_node is not None:
            checks.append(("fan-out to 5,000: ≥ 0.5× Node socket.io", r_node >= 0.5, f"{r_node:.2f}×"))
    if 10000 in plan.sizes:
        ours_kb, node_kb = med("memory.10000", "ours"), med("memory.10000", "node")
        if ours_kb is not None and node_kb is not None:
            checks.append(
                (
                    "memory per idle connection at 10,000 ≤ Node",
                    ours_kb <= node_kb,
                    f"{ours_kb:.1f} vs {node_kb:.1f} KB",
                )
            )
        lost = med("fanout.10000.lost", "ours")
        if lost is not None:
            checks.append(("10,000 clients in one room, zero loss", lost == 0, f"{lost:.0f} lost"))
    p99 = med("latency.p99", "ours")
    if p99 is not None and plan.latency_clients == 1000 and plan.latency_rate == 20:
        checks.append(("1,000 clients at 20 events/s: p99 < 50 ms", p99 < 50, f"{p99:.1f} ms"))
    rate = med("connects.rate", "ours")
    if rate is not None:
        checks.append(("≥ 2,000 authenticated connects/s", rate >= 2000, f"{rate:,.0f}/s"))
    lines = [f"- {name}: **{'met' if ok else 'not met'}** ({detail})" for name, ok, detail in checks]
    lines.append(
        "- Not measured by this harness yet: event-loop stalls during mass disconnect (> 100 ms), "
        "20,000 clients across two processes behind Redis."
    )
    return lines


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
        if section.scenario == "history":
            lines += [HISTORY_NOTE, ""]
            continue
        if any(metric.key in results.values for metric in section.metrics):
            lines += [*section_table(results, section), ""]
        found = problems(results, section.scenario)
        if found:
            lines += ["Missing figures:", "", *found, ""]
    if "ours" in results.targets:
        lines += ["## The issue's targets, judged from this run", "", *target_checks(results, plan), ""]
    if results.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in results.notes), ""]
    lines += profile_lines(results)
    lines += ["## Every run", "", *runs_table(results, plan), ""]
    return "\n".join(lines)

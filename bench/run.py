"""Benchmark harness: `python bench/run.py [--quick] [--scenarios ...] [--servers ...]`.

Starts every server itself (ours and three references), pins them to one core
and the load generator to the other, runs the scenarios (each the median of
several runs), and writes bench/RESULTS.md. Benchmarks, not tests: nothing here
passes or fails on speed. `--help` lists the options.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench.*` and apps/api importable
    _root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(_root), str(_root / "apps" / "api")]

import argparse
import asyncio
import dataclasses
import os
import secrets
import shlex
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bench import machine, profiling
from bench.loadgen import ensure_node_modules, mint_tokens
from bench.notes import add_notes
from bench.plan import SCENARIOS, TARGET_KEYS, Plan, build_plan
from bench.procs import API_DIR, BENCH_DIR, LOAD_CORES, WORK_DIR, raise_fd_limit, say
from bench.redis_server import RedisServer
from bench.report import render
from bench.results import Results
from bench.scenarios import Context, Figures, Skipped, fanout, latency, ramp, single
from bench.scenarios_cost import publish_cost
from bench.scenarios_flood import flood
from bench.scenarios_history import history
from bench.scenarios_publish import publish_pace
from bench.scenarios_redis import cross_instance, partition, scale
from bench.scenarios_slow import slow_reader
from bench.targets import BEFORE_REF, TARGETS, Target

Scenario = Callable[[Context, Target, int], Awaitable[Figures]]
# memory and connects come from the same ramp.
RUNNERS: dict[str, Scenario] = {
    "memory": ramp,
    "connects": ramp,
    "fanout": fanout,
    "latency": latency,
    "single": single,
    "redis": cross_instance,
    "history": history,
    "scale": scale,
    "partition": partition,
    "slow": slow_reader,
    "flood": flood,
    "publish": publish_pace,
    "cost": publish_cost,
}
NEEDS_REDIS = ("redis", "history", "scale", "partition", "cost")


def csv(kind: str, allowed: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(item.strip() for item in text.split(",") if item.strip())
        unknown = [item for item in items if item not in allowed]
        if unknown or not items:
            raise argparse.ArgumentTypeError(f"unknown {kind} {unknown}; choose from {', '.join(allowed)}")
        return items

    return parse


def sizes(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(item) for item in text.split(",")}))
    except ValueError:
        raise argparse.ArgumentTypeError("sizes are comma-separated integers") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return values


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small counts and one run (development, CI smoke)"
    )
    parser.add_argument("--runs", type=int, help="runs per figure, reported as the median (default 3)")
    parser.add_argument(
        "--scenarios", type=csv("scenario", SCENARIOS), help=f"default: {','.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--servers", type=csv("server", TARGET_KEYS), help=f"default: {','.join(TARGET_KEYS)}"
    )
    parser.add_argument(
        "--sizes", type=sizes, help="room sizes for memory and fan-out (default 1000,5000,10000)"
    )
    parser.add_argument(
        "--before", help=f"git ref of 'ours before' (default {BEFORE_REF}: main as round 2 began)"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy our server during one fan-out burst")
    parser.add_argument(
        "--profile-size", type=int, help="clients in the profiled burst (default 5000; 1: the `single` case)"
    )
    parser.add_argument(
        "--output", type=Path, default=BENCH_DIR / "RESULTS.md", help="default bench/RESULTS.md"
    )
    parser.add_argument("--json", type=Path, default=WORK_DIR / "results.json", help="raw figures")
    parser.add_argument(
        "--render-only", type=Path, metavar="JSON", help="rewrite --output from saved figures"
    )
    parser.add_argument("--note", action="append", default=[], help="a note for RESULTS.md (repeatable)")
    return parser.parse_args(argv)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def summary(figures: Figures) -> str:
    wanted = (".rate", ".p99", ".lost", ".disconnect_s")
    shown = [
        f"{k}={v:,.1f}" for k, v in figures.items() if v is not None and (k.endswith(wanted) or "memory" in k)
    ]
    return " ".join(shown)


async def run_scenarios(ctx: Context, results: Results) -> None:
    plan = ctx.plan
    done: set[Scenario] = set()
    for name in plan.scenarios:
        runner = RUNNERS.get(name)
        if runner is None or runner in done:
            continue
        done.add(runner)
        covers = [s for s in plan.scenarios if RUNNERS.get(s) is runner]
        for run in range(plan.runs):
            for key in plan.targets_of(name):
                say(f"{'+'.join(covers)} run {run + 1}/{plan.runs}: {key}")
                try:
                    figures = await runner(ctx, TARGETS[key], run)
                except Skipped as exc:
                    for scenario in covers:
                        results.problem(scenario, key, f"skipped: {exc}")
                    say(f"  skipped: {exc}")
                    continue
                except Exception as exc:
                    for scenario in covers:
                        results.problem(scenario, key, f"error: {type(exc).__name__}: {str(exc)[:300]}")
                    say(f"  error: {type(exc).__name__}: {exc}")
                    continue
                kept = {k: v for k, v in figures.items() if k.split(".", 1)[0] in covers}
                results.add(key, kept)
                say(f"  {summary(kept)}")


def saved_overrides(saved: Results) -> dict[str, Any]:
    """The plan a saved run used, as build_plan overrides."""
    fields = {f.name for f in dataclasses.fields(Plan)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in saved.plan.items() if k in fields}


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    overrides = {
        "runs": args.runs,
        "sizes": args.sizes,
        "scenarios": args.scenarios,
        "targets": args.servers,
        "before": args.before,
        "profile_size": args.profile_size,
    }
    plan = build_plan(args.quick, **overrides)
    if args.render_only:
        saved = Results.load(args.render_only)
        if saved.profile and Path(saved.profile.get("file", "")).exists():  # re-read with today's summary
            saved.profile.update(profiling.summarize(Path(saved.profile["file"])))
        saved.notes += [note for note in args.note if note not in saved.notes]
        saved.save(args.render_only)
        args.output.write_text(render(saved, build_plan(args.quick, **saved_overrides(saved))))
        return 0
    raise_fd_limit(plan.clients_per_process + 1024)
    os.sched_setaffinity(0, LOAD_CORES)
    ensure_node_modules()
    secret = secrets.token_urlsafe(48)
    tokens = mint_tokens(secret, plan.max_clients + 64)
    ctx = Context(plan, secret, tokens, before_ref=plan.before or BEFORE_REF)
    results = Results(
        command=shlex.join(["python", "bench/run.py", *argv]),
        started=now(),
        plan=vars(plan) | {"scenarios": list(plan.scenarios)},
        machine=machine.describe(),
        targets=list(plan.targets),
    )
    load_at_start = os.getloadavg()[0]
    say(f"plan: {plan}")
    if any(name in plan.scenarios for name in NEEDS_REDIS):
        ctx.redis = RedisServer().start()
    try:
        await run_scenarios(ctx, results)
        if args.profile and "ours" in plan.targets:
            say(f"profiling ours: fan-out to {plan.profile_size}")
            results.profile = await profiling.profile_fanout(ctx)
    finally:
        if ctx.redis is not None:
            ctx.redis.stop()
    results.finished = now()
    load1, load5, _ = os.getloadavg()  # this run's own processes count here too
    results.machine["Load average at end (this run included)"] = f"{load1:.2f} (1 min), {load5:.2f} (5 min)"
    add_notes(results, plan, load_at_start)
    results.notes += args.note
    results.save(args.json)
    args.output.write_text(render(results, plan))
    say(f"wrote {args.output} and {args.json}")
    return 0


if __name__ == "__main__":
    # SIGTERM unwinds like Ctrl-C, so every started server and client is stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    os.chdir(API_DIR.parent.parent)  # relative paths in messages are from the repository root
    try:
        sys.exit(asyncio.run(main(sys.argv[1:])))
    except KeyboardInterrupt:
        print("[bench] interrupted; servers and clients stopped, no results written", file=sys.stderr)
        sys.exit(130)

"""``harmonix experiment …``: controlled experiments, each answering one question, reported whatever they show."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harmonix.cli.shared import emit_json, harmonix_command, run, stderr
from harmonix.config import Config
from harmonix.errors import InvalidArgument
from harmonix.lab.reports import reproducing_command, show_report
from harmonix.organisms.base import ORGANISMS, plain
from harmonix.progress import terminal_progress


@click.group("experiment")
def experiment_group() -> None:
    """Controlled experiments, reported whatever they show."""


@experiment_group.command("prose-modes")
@click.option("--arms", default=",".join(("smollm2-chat", "smollm2-completion", "gemma-completion")),
              show_default=True, help="Comma-separated arms (gemma-completion needs the gemma extra).")
@click.option("--count", type=click.IntRange(min=2), default=None, help="Prompts (default: the standard set).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as markdown to this file.")
@harmonix_command()
def prose_modes_command(config: Config, as_json: bool, arms: str, count: int | None, report: Path | None) -> None:
    """How should Prose speak? Chat and completion, SmolLM2 and Gemma, side by side (harmonix.lab.experiments)."""
    from harmonix.lab.experiments.prose_modes import ARMS, markdown, run_prose_modes
    from harmonix.lab.judge import Judge
    from harmonix.lab.prompts import standard_prompts

    chosen = [arm.strip() for arm in arms.split(",") if arm.strip()]
    if not chosen or any(arm not in ARMS for arm in chosen):
        raise InvalidArgument(f"--arms must name some of {', '.join(ARMS)}, got {arms!r}")
    prompts = standard_prompts()
    prompts = [prompts[i % len(prompts)] for i in range(count or len(prompts))]
    results = run(run_prose_modes(prompts, chosen, config, Judge.load(), progress=terminal_progress(stderr)))
    text = markdown(results, reproducing_command("harmonix experiment prose-modes", sys.argv[3:]))
    show_report(report, text, as_json, {"arms": results})


@experiment_group.command("associations")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as markdown to this file.")
@harmonix_command()
def associations_command(config: Config, as_json: bool, report: Path | None) -> None:
    """Which source of what a prompt calls up carries its meaning? Their ceilings, judged (harmonix.lab.experiments)."""
    from harmonix.engines.memory import Memory
    from harmonix.lab.experiments.associations import markdown, run_associations
    from harmonix.lab.judge import Judge
    from harmonix.lab.prompts import standard_prompts

    prompts = standard_prompts()
    arms = run_associations(prompts, Memory.load(), Judge.load())
    text = markdown(arms, prompts, reproducing_command("harmonix experiment associations", sys.argv[3:]))
    show_report(report, text, as_json, {"arms": [plain(arm) for arm in arms]})


@experiment_group.command("long-conversation")
@click.option("--cascades", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as markdown to this file.")
@harmonix_command(llm=True)
def long_conversation_command(config: Config, as_json: bool, cascades: int, report: Path | None) -> None:
    """Does a colony stay alive over a long conversation? Distinct-2 early and late, recurring 4-grams."""
    from harmonix.lab.experiments.long_conversation import markdown, run_long_conversation

    result = run(run_long_conversation(cascades, config, progress=terminal_progress(stderr)))
    text = markdown(result, reproducing_command("harmonix experiment long-conversation", sys.argv[3:]))
    show_report(report, text, as_json, plain(result))


@experiment_group.command("memory")
@click.option("--themes", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="A prompt file of themes that pair in file order, plus a 'between' theme (default: the shipped "
                   "data/prompts/memory.txt).")
@click.option("--pairs", type=click.IntRange(min=1), default=None, help="Only the first N pairs.")
@click.option("--gaps", default=",".join(str(gap) for gap in (0, 1, 3, 6)), show_default=True,
              help="Comma-separated numbers of unrelated prompts between the themes and the probe.")
@click.option("--organisms", default=",".join(ORGANISMS), show_default=True,
              help="Comma-separated; fewer than all four breathe alone, on turns of their own (no hub, no exhale): "
                   "quicker, for work on one organism.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as markdown to this file.")
@harmonix_command(llm=True)
def memory_command(config: Config, as_json: bool, themes: Path | None, pairs: int | None, gaps: str,
                   organisms: str, report: Path | None) -> None:
    """Does what a colony heard shape what it says later? The history effect per organism, and how it fades."""
    from harmonix.lab.experiments.memory import markdown as memory_markdown
    from harmonix.lab.experiments.memory import run_memory
    from harmonix.lab.judge import Judge

    try:
        chosen = tuple(sorted({int(part) for part in gaps.split(",") if part.strip()}))
    except ValueError:
        raise InvalidArgument(f"--gaps must be comma-separated integers, got {gaps!r}") from None
    if not chosen or min(chosen) < 0:
        raise InvalidArgument("--gaps needs at least one number of 0 or more")
    named = [part.strip() for part in organisms.split(",") if part.strip()]
    result = run(run_memory(config, Judge.load(), themes, pairs=pairs, gaps=chosen, organisms=named,
                            progress=terminal_progress(stderr)))
    text = memory_markdown(result, reproducing_command("harmonix experiment memory", sys.argv[3:]))
    show_report(report, text, as_json, plain(result))


@experiment_group.command("lock-isolation")
@click.option("--runs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--turns", type=click.IntRange(min=1), default=20, show_default=True, help="Turns per session.")
@click.option("--sessions", default="1,4", show_default=True, help="Comma-separated concurrent session counts.")
@click.option("--quick", is_flag=True, help="2 runs x 6 turns: about a minute at most, for CI.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write lock-isolation.md and lock-isolation.png here.")
@harmonix_command()
def lock_isolation_command(config: Config, as_json: bool, runs: int, turns: int, sessions: str, quick: bool,
                           report_dir: Path | None) -> None:
    """Does the lock matter? Four arms (sync/async x lock/no lock), 1 and 4 sessions (harmonix.lab.experiments)."""
    from harmonix.lab.experiments.lock_isolation import chart, markdown, run_lock_isolation

    try:
        counts = tuple(int(part) for part in sessions.split(",") if part.strip())
    except ValueError:
        raise InvalidArgument(f"--sessions must be comma-separated integers, got {sessions!r}") from None
    if not counts or min(counts) < 1:
        raise InvalidArgument("--sessions needs at least one positive count")
    if quick:
        runs, turns = 2, 6
    result = run(run_lock_isolation(runs=runs, turns=turns, sessions=counts, progress=terminal_progress(stderr)))
    text = markdown(result, reproducing_command("harmonix experiment lock-isolation", sys.argv[3:]))
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "lock-isolation.md").write_text(text + "\n![violations and echo](lock-isolation.png)\n",
                                                     encoding="utf-8")
        chart(result, report_dir / "lock-isolation.png")
    if as_json:
        emit_json(plain(result))
    else:
        click.echo(text)

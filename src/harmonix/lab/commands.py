"""The lab's commands, registered on the ``harmonix`` command line as a plugin (the ``harmonix.commands`` entry point
``lab``): ``bench``, ``experiment``, ``train`` (each from its own package) and ``eval``, the standing quality report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harmonix.cli.shared import harmonix_command, run, stderr
from harmonix.config import Config
from harmonix.errors import InvalidArgument
from harmonix.lab.bench.commands import bench_group
from harmonix.lab.experiments.commands import experiment_group
from harmonix.lab.reports import read_json_document, reproducing_command, show_report
from harmonix.lab.training.commands import train_group
from harmonix.progress import terminal_progress


def register(main: click.Group) -> None:
    """Add the lab's commands to ``main`` (the entry point's target)."""
    for command in (bench_group, eval_command, experiment_group, train_group):
        main.add_command(command)


@click.command("eval")
@click.option("--prompts", "prompts_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A prompt file (default: the standard set shipped with Harmonix).")
@click.option("--organisms", default="haiku,sonnet,prose,cascade", show_default=True,
              help="Comma-separated: haiku, sonnet, prose, cascade, chatbot (the plain-assistant reference).")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Replies per organism (default: one pass).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as markdown to this file.")
@click.option("--judge/--no-judge", default=True, show_default=True,
              help="Score prompt influence with the embedding judge (needs the eval extra).")
@click.option("--before", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="An earlier `harmonix eval --json` document to show next to this run in the report.")
@click.option("--label", default=None, help="What this run measured, kept in its --json document.")
@click.option("--fluency", is_flag=True,
              help="Also score fluency with Gemma-3-270M base, beside references (needs the eval extra).")
@harmonix_command(llm=True)
def eval_command(config: Config, as_json: bool, prompts_file: Path | None, organisms: str, count: int | None,
                 report: Path | None, judge: bool, before: Path | None, label: str | None, fluency: bool) -> None:
    """The standing quality report: echo, prompt influence, dissonance, meta-talk, form, distinct-2, copy rate,
    latency, per organism, on fresh fields."""
    from harmonix.lab.corpora import cache_dir
    from harmonix.lab.eval import EVALUATORS, markdown_report, reference_texts, run_eval
    from harmonix.lab.fluency import FluencyJudge
    from harmonix.lab.judge import Judge
    from harmonix.lab.prompts import read_prompts

    chosen = [name.strip() for name in organisms.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in EVALUATORS]
    if unknown or not chosen:
        raise InvalidArgument(f"unknown organisms {unknown}; choose from {sorted(EVALUATORS)}")
    prompts = read_prompts(prompts_file)
    if not prompts:
        raise InvalidArgument("the prompt file holds no prompt")
    earlier = read_json_document(before) if before is not None else None
    scorer = Judge.load() if judge else None
    reader = FluencyJudge.load(cache_dir()) if fluency else None
    results = run(run_eval(prompts, chosen, count or len(prompts), progress=terminal_progress(stderr), config=config,
                           judge=scorer, fluency=reader))
    references = ({name: reader.fluency(texts) for name, texts in reference_texts(count or len(prompts)).items()}
                  if reader is not None else None)
    text = markdown_report(results, reproducing_command("harmonix eval", sys.argv[2:]), earlier, references)
    show_report(report, text, as_json, {"label": label, "prompts": len(prompts), "results": results,
                                        "fluency_references": references})

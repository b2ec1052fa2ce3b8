"""An OpenAI-compatible stand-in for a remote LLM, in its own process: every chat answer comes after ``DELAY``
seconds with no local compute (:mod:`harmonix.bench.delay_server`); a GET (an engine's probe) after ``PROBE``
seconds. Prints its URL, then serves until killed.

    python llm_standin.py DELAY [PROBE]
"""

from __future__ import annotations

import asyncio
import sys

from harmonix.bench.delay_server import delayed_server


async def main(delay_s: float, probe_delay_s: float) -> None:
    async with delayed_server(delay_s, probe_delay_s) as url:
        print(url, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0))

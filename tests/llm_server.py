"""A real OpenAI-compatible server in its own process, for tests that must kill it: llama.cpp's HTTP server around
the embedded model (one thread). Prints its address, then serves until it is killed."""

from __future__ import annotations

import asyncio

from harmonix.engines.llm import LlamaCppEngine, LlamaCppSettings, embedded_model_path


async def main() -> None:
    async with LlamaCppEngine.open(LlamaCppSettings(embedded_model_path(), n_parallel=1, threads=1)) as engine:
        print(engine.listening_address, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())

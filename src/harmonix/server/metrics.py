"""The server's Prometheus metrics (``GET /metrics``), in a registry of the server's own (no process-wide state).

- ``harmonix_requests_total{kind, outcome}`` (counter): cascades and turns by outcome: ``ok``, ``rejected``,
  ``error``, ``cancelled``, ``deadline``;
- ``harmonix_request_seconds{kind}`` (histogram): a whole cascade or turn, admitted to finished;
- ``harmonix_stage_seconds{organism}`` (histogram): one organism's part;
- ``harmonix_first_event_seconds`` (histogram): a streamed request, admitted to its first ``stage`` event;
- ``harmonix_rejections_total{reason}`` (counter): requests refused: ``busy`` (429), ``unauthorized``;
- ``harmonix_active_requests``, ``harmonix_queue_depth`` (gauges): requests running, and waiting for an organism;
- ``harmonix_open_colonies`` (gauge): colonies with their fields open;
- ``harmonix_llm_tokens_total{organism}`` (counter) and ``harmonix_llm_tokens_per_second{organism}`` (gauge, the
  latest answer's rate): what Prose and Artist wrote;
- ``harmonix_event_loop_tasks`` (gauge): asyncio tasks alive in the server's event loop (a leak shows as growth);
- the process's own: ``process_resident_memory_bytes``, ``process_open_fds``, ``process_cpu_seconds_total`` …
  (prometheus_client's process collector, Linux), read at each scrape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest

from harmonix.meta import StageResult

SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0, 120.0, 300.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ServerMetrics:
    """Everything in the module docstring. ``active``, ``waiting`` and ``open_colonies`` are read when scraped."""

    def __init__(self, active: Callable[[], float], waiting: Callable[[], float],
                 open_colonies: Callable[[], float]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("harmonix_requests", "Cascades and turns by outcome.", ["kind", "outcome"], registry=r)
        self.request_seconds = Histogram("harmonix_request_seconds", "A whole cascade or turn.", ["kind"],
                                         buckets=SECONDS, registry=r)
        self.stage_seconds = Histogram("harmonix_stage_seconds", "One organism's part.", ["organism"],
                                       buckets=SECONDS, registry=r)
        self.first_event_seconds = Histogram("harmonix_first_event_seconds", "Admitted to the first stage event.",
                                             buckets=SECONDS, registry=r)
        self.rejections = Counter("harmonix_rejections", "Requests refused.", ["reason"], registry=r)
        self.llm_tokens = Counter("harmonix_llm_tokens", "Tokens the LLM organisms wrote.", ["organism"], registry=r)
        self.llm_rate = Gauge("harmonix_llm_tokens_per_second", "The latest answer's tokens per second.",
                              ["organism"], registry=r)
        Gauge("harmonix_active_requests", "Requests running.", registry=r).set_function(active)
        Gauge("harmonix_queue_depth", "Requests waiting for an organism.", registry=r).set_function(waiting)
        Gauge("harmonix_open_colonies", "Colonies with open fields.", registry=r).set_function(open_colonies)
        Gauge("harmonix_event_loop_tasks", "Asyncio tasks alive in the event loop.",
              registry=r).set_function(lambda: len(asyncio.all_tasks()))
        ProcessCollector(registry=r)

    def stage(self, stage: StageResult) -> None:
        """Record one organism's part (and the LLM's tokens when it has any)."""
        self.stage_seconds.labels(stage.name).observe(stage.seconds)
        details = stage.reply.details() if stage.reply is not None else {}
        tokens = details.get("tokens")
        if isinstance(tokens, int) and tokens > 0:
            self.llm_tokens.labels(stage.name).inc(tokens)
            self.llm_rate.labels(stage.name).set(tokens / stage.seconds if stage.seconds > 0 else 0.0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

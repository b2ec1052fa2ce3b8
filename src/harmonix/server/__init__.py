"""``harmonix serve``: many conversations at once over HTTP, each breath streamed as it happens.

A surface: it shapes requests into :class:`~harmonix.service.ColonyService` calls and results into documents
(:mod:`harmonix.documents`); it knows nothing of storage or of organisms' insides.

- :mod:`harmonix.server.app`: the FastAPI application and its routes (``/v1/...``, ``/health``, ``/metrics``);
- :mod:`harmonix.server.streams`: Server-Sent Events from a breath's events;
- :mod:`harmonix.server.openai`: the OpenAI-compatible routes;
- :mod:`harmonix.server.auth`: API keys;
- :mod:`harmonix.server.metrics`: the Prometheus metrics;
- :mod:`harmonix.server.run`: uvicorn, the socket, the signals, the readiness line.
"""

"""Engines: the compute behind organisms (Markov walk, NumPy char-transformer, LLM). They know nothing of fields."""

"""Engines that run the generative tagger's decoding, registered by name
(`base.ENGINES`): the harness's own loop (transformers) and vLLM."""
from systems.llm.engines import vllm  # noqa: F401  (registers "vllm")
from systems.llm.engines.base import ENGINES, engine_requirements, register_engine, with_engine

__all__ = ["ENGINES", "engine_requirements", "register_engine", "with_engine"]

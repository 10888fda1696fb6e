"""LLM engines, registered by name (config ``engine``): what runs the
generative tagger's decoding.  An engine takes the configured decoder (free,
constrained, ...) and returns the decoder that it runs; ``transformers`` is the
harness's own decoding loop, as it is."""
from __future__ import annotations

from harness.core.named import NamedClasses

from systems.llm.decoding.decoders import Decoder


class Engine:
    name: str
    requires: tuple[str, ...] = ()     # import names beyond the system's own

    def __init__(self, tensor_parallel_size: int = 1):
        self.tensor_parallel_size = tensor_parallel_size

    def wrap(self, decoder: Decoder) -> Decoder:
        raise NotImplementedError


ENGINES: NamedClasses[Engine] = NamedClasses("engine")
register_engine = ENGINES.register


@register_engine("transformers")
class TransformersEngine(Engine):
    def wrap(self, decoder: Decoder) -> Decoder:
        return decoder


def with_engine(decoder: Decoder, engine: str, tensor_parallel_size: int = 1) -> Decoder:
    """The decoder as `engine` runs it."""
    return ENGINES.create(engine, tensor_parallel_size).wrap(decoder)


def engine_requirements(engine: str) -> tuple[str, ...]:
    return ENGINES.get(engine).requires

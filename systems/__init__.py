"""The harness's own NER systems, one sub-package a kind:

- `encoder`: the token classifier (bert) and its prediction backends;
- `llm`: the generative tagger, fine-tuned (llm) and prompted (llm-prompted),
  with its prompt formats, grammar, LoRA training, decoders and engines;
- `span`: GLiNER;
- `spacy_pipelines`: the spaCy references;
- `common`: what the Trainer-based systems share.

`BUILTIN` names the module that registers each system, so that looking one
up imports that module only, and a module that cannot be imported here (its
packages are not installed) costs only its own systems.
"""
BUILTIN: dict[str, str] = {
    "bert": "systems.encoder.tagger",
    "gliner": "systems.span.gliner",
    "llm": "systems.llm.tagger",
    "llm-prompted": "systems.llm.prompted",
    "spacy-pretrained": "systems.spacy_pipelines.pipelines",
    "spacy-trained": "systems.spacy_pipelines.pipelines",
}

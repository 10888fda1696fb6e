"""The generative tagger: fine-tuned with (Q)LoRA (llm) and prompted (llm-prompted)."""

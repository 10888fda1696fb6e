"""Seconds per LLM-tagger training step by batch size and base precision, and
where a step's time goes.

Each configuration trains the offline profile's tagger for one epoch on the same
real training sentences through the harness's own `train()` (the Trainer), so a
step is the harness's step.  Then a few more steps of the same model and loss run
outside the Trainer, the last under torch.profiler, which splits a step into the
accelerator's kernel time and the rest: the host dispatching work to it.  A step
that costs about the same at batch 8 as at 32 is bound by that dispatch.

`--random-weights` trains a copy of the model with its config and tokenizer and
random weights, for a machine that the weights cannot reach: the shapes and the
prompts are the real ones, so the time is, but the loss is not.

    python benchmarks/llm_training_steps.py [--sentences 960] [--batch-sizes 8,32]
        [--quantizations nf4,none] [--model PATH] [--random-weights] [--trace-dir DIR]
"""
from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path

from _common import real_train_and_validation


def random_copy(source: str, folder: Path) -> str:
    """The model at `source` with random weights (seeded), saved in `folder`."""
    import shutil

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    shutil.copytree(source, folder, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(source)).save_pretrained(folder)
    return str(folder)


def train_epoch(scheme, train, val, model: str, quantization: str, batch: int, workdir: Path):
    """The trained system and its epoch's seconds (the epoch timer's: no validation)."""
    from systems.llm.tagger import LLMTagger

    cfg = LLMTagger.make_config("offline", model=model, quantization=quantization,
                                batch_size=batch, epochs=1, eval_loss_limit=8,
                                eval_generate_limit=1)
    system = LLMTagger(scheme, cfg)
    history = system.train(train, val, workdir=workdir)
    return system, history[0]["train_seconds"]


def _step_fn(system):
    """One optimisation step of the system's model on a collated batch, as the
    Trainer's (the same loss, bf16 autocast with a 4-bit base, clipping, AdamW,
    fused on CUDA as the Trainer's default)."""
    import torch

    from systems.llm.training import answer_loss

    params = [p for p in system.model.parameters() if p.requires_grad]
    device = next(system.model.parameters()).device
    opt = torch.optim.AdamW(params, lr=1e-5, fused=device.type == "cuda")
    prefix = system.shared_prefix_len()

    def step(batch: dict) -> None:
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=torch.bfloat16,
                            enabled=system.quantized and device.type == "cuda"):
            loss = answer_loss(system.model, batch, prefix)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def traced_step(system, train, batch: int, trace: Path | None) -> dict:
    """Wall seconds of a warm step (the mean over 3 length-grouped batches, each
    stepped once before, so that one-off work such as cuDNN's plan for a new
    padded length is not counted), then one of them again under torch.profiler:
    its kernel seconds, kernel launches and host CPU seconds."""
    import torch
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    from transformers import DataCollatorForSeq2Seq

    from systems.common.alignment import IGNORE_INDEX

    collate = DataCollatorForSeq2Seq(system.tokenizer, padding=True,
                                     label_pad_token_id=IGNORE_INDEX)
    rows = sorted((system._example(t, g) for t, g in zip(train["tokens"][:3 * batch],
                                                         train["tags"][:3 * batch])),
                  key=lambda r: len(r["input_ids"]))   # length-grouped, as the Trainer's
    batches = [collate(rows[i:i + batch]) for i in range(0, len(rows), batch)]
    system.model.train()
    step = _step_fn(system)
    cuda = torch.cuda.is_available()
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for b in batches:
        step(b)
    sync()
    start = time.perf_counter()
    for b in batches:
        step(b)
    sync()
    wall = (time.perf_counter() - start) / len(batches)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        step(batches[0])
        sync()
    events = prof.key_averages()
    kernels = [e for e in events if e.device_type == DeviceType.CUDA and not e.is_user_annotation]
    if trace is not None:
        trace.write_text(events.table(sort_by="self_cpu_time_total", row_limit=20))
    return {"step_s": round(wall, 4),
            "traced_kernel_s": round(sum(e.self_device_time_total for e in kernels) / 1e6, 4),
            "traced_host_cpu_s": round(sum(e.self_cpu_time_total for e in events) / 1e6, 4),
            "kernel_launches": sum(e.count for e in events if "LaunchKernel" in e.key)}


def measure(args, scheme, train, val, model: str, tmp: Path) -> list[dict]:
    """One row per (quantization, batch size), each printed as it is done."""
    import torch

    if args.random_weights:
        model = random_copy(model, tmp / "random-model")
    rows, system = [], None
    for quantization in args.quantizations.split(","):
        for batch in map(int, args.batch_sizes.split(",")):
            del system   # the last configuration's model would count in this one's peak
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            system, seconds = train_epoch(scheme, train, val, model, quantization, batch,
                                          tmp / f"{quantization}-{batch}")
            steps = -(-len(train) // batch)
            trace = args.trace_dir / f"{quantization}-{batch}.txt" if args.trace_dir else None
            rows.append({"quantization": quantization, "batch": batch, "steps": steps,
                         "epoch_s": round(seconds, 1), "trainer_step_s": round(seconds / steps, 4),
                         "train_sentences_per_s": round(len(train) / seconds, 1),
                         "peak_gpu_mib": (round(torch.cuda.max_memory_allocated() / 2**20)
                                          if torch.cuda.is_available() else None),
                         **traced_step(system, train, batch, trace)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=960)
    ap.add_argument("--batch-sizes", default="8,32")
    ap.add_argument("--quantizations", default="nf4,none")
    ap.add_argument("--scheme", default="B")
    ap.add_argument("--model", default=None,
                    help="the base model (default: the offline profile's); with --random-weights "
                         "a folder with its config and tokenizer is enough")
    ap.add_argument("--random-weights", action="store_true")
    ap.add_argument("--trace-dir", type=Path, default=None,
                    help="write each traced step's profiler table here")
    args = ap.parse_args()

    import torch

    from harness.core.sources import resolve_llm
    from harness.measure.provenance import git_commit, hardware
    from systems.llm.tagger import LLMTagger

    scheme, train, val = real_train_and_validation(args.sentences, 8, args.scheme)
    model = resolve_llm(args.model or LLMTagger.make_config("offline").model)
    with tempfile.TemporaryDirectory() as tmp:   # the random copy and every checkpoint
        rows = measure(args, scheme, train, val, model, Path(tmp))
    print(json.dumps({"sentences": len(train), "scheme": args.scheme, "model": model,
                      "random_weights": args.random_weights, "hardware": hardware(),
                      "torch": torch.__version__, "commit": git_commit(), "rows": rows}, indent=1))

if __name__ == "__main__":
    main()

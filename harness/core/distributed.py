"""Runs started by torchrun or accelerate launch: which process this is, and
the few collective steps the runner needs.

The launchers say everything through the environment (RANK, WORLD_SIZE,
LOCAL_RANK), so a plain `python -m harness run` is a world of one and never
touches torch.distributed.  Training needs nothing from here: the Trainer
sees the same environment and wraps the model in DDP.  The runner uses this
module to let one process write, to shard prediction and gather it back in
order, and to make the others wait while that process works alone.
"""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")

# Latency timing and reports happen on one rank while the others wait.
WAIT = timedelta(hours=6)


def _launcher_number(name: str, default: int) -> int:
    """A launcher's environment variable as a whole number, or a one-line error."""
    from harness.core.errors import ConfigError

    value = os.environ.get(name, "")
    if not value.strip():
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r} is not a whole number "
                          f"(torchrun and accelerate launch set it; unset it to run one "
                          f"process)") from None
    if number < 0:
        raise ConfigError(f"environment variable {name}={value!r} is negative")
    return number


def world_size() -> int:
    return _launcher_number("WORLD_SIZE", 1)


def rank() -> int:
    return _launcher_number("RANK", 0)


def local_rank() -> int:
    """This process's device index on its node."""
    return _launcher_number("LOCAL_RANK", 0)


def is_main() -> bool:
    return rank() == 0


def describe() -> dict:
    """What a result says of the launch: nothing for one process."""
    if world_size() == 1:
        return {}
    return {"world_size": world_size(),
            "processes": f"{world_size()} (training DDP, prediction sharded; latency timed "
                         f"on rank 0 alone while the others waited)"}


def _group():
    """The default process group, started here if the Trainer has not yet
    (a reused model is never trained): gloo on CPU, nccl on CUDA."""
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank())
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", timeout=WAIT)
    return dist


def barrier() -> None:
    if world_size() > 1:
        _group().barrier()


def shard(items: Sequence[T]) -> list[T]:
    """This rank's share: every world_size-th item from its rank on, so that
    a length-sorted set spreads evenly."""
    return list(items[rank()::world_size()])


def gather_shards(mine: list[T], total: int) -> list[T]:
    """Every rank's `shard` results put back in the original order, on every rank."""
    if world_size() == 1:
        return mine
    out: list = [None] * total
    for r, part in enumerate(all_objects(mine)):
        out[r::world_size()] = part
    return out


def all_objects(mine: T) -> list[T]:
    """One object from each rank, in rank order, on every rank."""
    if world_size() == 1:
        return [mine]
    parts: list = [None] * world_size()
    _group().all_gather_object(parts, mine)
    return parts


def on_main(fn: Callable[[], T]) -> T | None:
    """Run `fn` on the main process only; the others wait for it to finish."""
    result = fn() if is_main() else None
    barrier()
    return result

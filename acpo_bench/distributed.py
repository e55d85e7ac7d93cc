"""Data-parallel evaluation under torchrun (or ``accelerate launch``): who this process is, and the gather of every
rank's answers.

Only when WORLD_SIZE > 1 is torch.distributed imported (lazily, here), so the core stays importable without torch.
The process group exchanges Python objects only (gloo), whatever device the model runs on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

# Ranks finish their shards at different times and wait for the slowest one inside the gather; torch's default
# of 30 minutes would abort long GPU evaluations. A rank that dies ends the job through torchrun anyway.
GATHER_TIMEOUT = timedelta(hours=72)


class DistributedError(ValueError):
    pass


@dataclass(frozen=True)
class Shard:
    rank: int
    world: int
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_env() -> Shard | None:
    """This process's place in a torchrun job, or None for an ordinary single-process run."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return None
        rank = int(os.environ["RANK"])
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
    except (KeyError, ValueError) as exc:
        raise DistributedError(f"WORLD_SIZE is set but RANK/LOCAL_RANK are missing or not integers ({exc}); start "
                               "data-parallel runs with torchrun --nproc_per_node N -m acpo_bench eval ...") from None
    if not 0 <= rank < world:
        raise DistributedError(f"RANK={rank} is outside WORLD_SIZE={world}")
    return Shard(rank, world, local_rank)


def use_local_device(shard: Shard) -> None:
    """Make this rank's GPU the current one before a model loads, so "cuda" means cuda:LOCAL_RANK."""
    import torch

    if torch.cuda.is_available() and torch.cuda.device_count() > 1:
        torch.cuda.set_device(shard.local_rank % torch.cuda.device_count())


def gather(shard: Shard, obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank (pickled over a gloo process group)."""
    import torch.distributed as dist

    created = not dist.is_initialized()
    if created:
        dist.init_process_group(backend="gloo", rank=shard.rank, world_size=shard.world, timeout=GATHER_TIMEOUT)
    try:
        out: list[Any] = [None] * shard.world
        dist.all_gather_object(out, obj)
    finally:
        if created:
            dist.destroy_process_group()
    return out


"""Data-parallel training with :mod:`torch.distributed`: ``Model.fit(..., strategy="ddp")``,
plasticity kept identical across ranks, failure handling and portable checkpoints.

Launch one process per CPU socket/GPU with ``torchrun`` (see ``docs/distributed.md``)::

    torchrun --nproc-per-node=2 train.py          # train.py calls model.fit(..., strategy="ddp")

Public names:

* :class:`DDPStrategy`, :class:`Strategy`, :func:`get_strategy`: what ``fit`` does per rank;
* :func:`init_distributed`, :func:`teardown`, :func:`barrier`, :func:`get_rank`,
  :func:`get_world_size`, :func:`get_local_rank`, :func:`is_main_process`: process group;
* :class:`SyncPlastic`, :func:`convert_sync_plastic`, :func:`sync_plastic_update`: plasticity;
* :func:`unwrap_state_dict`, :func:`load_state_dict`, :func:`save_on_main`,
  :func:`resume_epoch`: checkpoints;
* :class:`Watchdog`, :class:`DistributedError`: failure handling.
"""
from neuroplastic.distributed.checkpoint import (
    load_state_dict,
    resume_epoch,
    save_on_main,
    unwrap_module,
    unwrap_state_dict,
)
from neuroplastic.distributed.plastic import (
    SyncPlastic,
    convert_sync_plastic,
    shared_state_fields,
    sync_plastic_update,
    sync_rule_state,
)
from neuroplastic.distributed.process_group import (
    DEFAULT_TIMEOUT,
    DistributedError,
    barrier,
    default_backend,
    find_free_port,
    get_local_rank,
    get_rank,
    get_world_size,
    init_distributed,
    is_distributed,
    is_main_process,
    launched_by_torchrun,
    teardown,
)
from neuroplastic.distributed.strategy import DDPStrategy, Strategy, get_strategy, is_rank_zero_only
from neuroplastic.distributed.watchdog import EXIT_CODE, Watchdog

__all__ = [
    "DEFAULT_TIMEOUT", "DDPStrategy", "DistributedError", "EXIT_CODE", "Strategy", "SyncPlastic", "Watchdog",
    "barrier", "convert_sync_plastic", "default_backend", "find_free_port", "get_local_rank", "get_rank",
    "get_strategy", "get_world_size", "init_distributed", "is_distributed", "is_main_process",
    "is_rank_zero_only", "launched_by_torchrun", "load_state_dict", "resume_epoch", "save_on_main",
    "shared_state_fields", "sync_plastic_update", "sync_rule_state", "teardown", "unwrap_module",
    "unwrap_state_dict",
]

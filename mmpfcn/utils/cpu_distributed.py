"""Distributed training and testing on CPU with MMEngine's pytorch launcher.

MMEngine 0.10.7 assumes a GPU per process in two places:
``init_dist('pytorch')`` calls ``torch.cuda.set_device(LOCAL_RANK)``, and the
Runner wraps the model with ``device_ids=[LOCAL_RANK]``, which
``DistributedDataParallel`` rejects for a CPU module. On a machine without
CUDA, :func:`prepare_cpu_distributed` does the CPU equivalent of
``init_dist('pytorch')`` (a gloo process group from the variables
``torch.distributed.run`` sets), after which ``Runner.setup_env`` skips
``init_dist``, and sets ``device_ids=None`` in the model wrapper config.
Everything else (samplers, result collection, master-only checkpoints and
logs) is MMEngine's own code.

MMEngine never destroys its process group either; a process that exits with
one alive races gloo's threads against interpreter shutdown and now and then
aborts ("terminate called without an active exception") after a finished
run. The tools end with :func:`destroy_process_group`.
"""
import datetime

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log


def prepare_cpu_distributed(cfg: Config) -> None:
    """Prepare ``cfg`` (launcher ``'pytorch'``) to run on CPU processes.

    Does nothing with another launcher or when CUDA is available. The
    config's ``env_cfg.dist_cfg`` ``timeout`` is kept; its backend is
    replaced by gloo, the only one of torch's backends that runs on CPU.
    """
    if cfg.get('launcher') != 'pytorch' or torch.cuda.is_available():
        return
    dist_cfg = cfg.get('env_cfg', {}).get('dist_cfg', {})
    if not torch_dist.is_initialized():
        timeout = dist_cfg.get('timeout')
        kwargs = {} if timeout is None else dict(
            timeout=datetime.timedelta(seconds=timeout))
        torch_dist.init_process_group(backend='gloo', **kwargs)
    if dist_cfg.get('backend', 'gloo') != 'gloo':
        print_log(
            f'No CUDA device: distributed backend gloo instead of '
            f'{dist_cfg["backend"]}.',
            logger='current')
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def destroy_process_group() -> None:
    """Once every rank has finished, tear down the process group (if any),
    so that no rank exits with gloo's threads still running."""
    if torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()

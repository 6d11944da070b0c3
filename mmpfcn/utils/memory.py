"""How much memory a computation can still allocate."""
import os

import torch

MEMINFO = '/proc/meminfo'


def available_memory(device: torch.device) -> int:
    """Bytes that can still be allocated on ``device``.

    CUDA: the driver's free memory plus what torch's caching allocator holds
    unused. CPU: ``MemAvailable`` of ``/proc/meminfo`` (free memory plus
    reclaimable caches), or the free physical pages where that file is
    missing.
    """
    if device.type == 'cuda':
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(
            device) - torch.cuda.memory_allocated(device)
    try:
        with open(MEMINFO) as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')

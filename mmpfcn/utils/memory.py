"""How much memory a computation can still allocate, and the peak memory of
a measured run."""
import ctypes
import ctypes.util
import gc
import os
from typing import Optional

import torch

MEMINFO = '/proc/meminfo'
CLEAR_REFS = '/proc/self/clear_refs'
PROC_STATUS = '/proc/self/status'


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


def release_memory() -> None:
    """Free unreachable objects and hand freed heap pages back to the
    system (glibc's ``malloc_trim``, where there is one), so that the next
    measured peak starts low."""
    gc.collect()
    libc = ctypes.util.find_library('c')
    trim = getattr(ctypes.CDLL(libc), 'malloc_trim', None) if libc else None
    if trim is not None:
        trim(0)


def reset_peak_memory(device: str) -> bool:
    """Start a new peak-memory window: CUDA's peak allocation, or the
    process's peak resident set size (Linux ``VmHWM``, reset through
    ``/proc/self/clear_refs``); False where that is impossible."""
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats(device)
        return True
    try:
        with open(CLEAR_REFS, 'w') as f:
            f.write('5')
    except OSError:
        return False
    return True


def peak_memory_mib(device: str) -> Optional[float]:
    """Peak memory since :func:`reset_peak_memory` in MiB; ``None`` where
    it cannot be read."""
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open(PROC_STATUS) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None

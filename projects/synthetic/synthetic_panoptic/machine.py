"""What the main job records about the CPU it ran on, and whether bfloat16
pays there.

The job's time depends on the instruction set: on a CPU without bfloat16
instructions (AVX2-only AMD EPYC, many laptops) oneDNN emulates bfloat16,
slower than float32, while AVX512-BF16 / AMX CPUs train faster with it.
"""
import os
import platform
from typing import Dict

# /proc/cpuinfo flags that decide the speed of the job's convolutions.
CPU_FLAGS = ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16')
# Variables that cap the instruction set torch and oneDNN use (how an
# AVX512 machine imitates the AVX2 class).
ISA_VARIABLES = ('ATEN_CPU_CAPABILITY', 'ONEDNN_MAX_CPU_ISA')


def read_cpuinfo(path: str = '/proc/cpuinfo') -> Dict[str, str]:
    """``model name`` and ``flags`` of the first processor in ``path`` (empty
    where the file or a field is missing: not Linux)."""
    fields: Dict[str, str] = {}
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(':')
                key = key.strip()
                if key in ('model name', 'flags') and key not in fields:
                    fields[key] = value.strip()
    except OSError:
        pass
    return fields


def bf16_supported() -> bool:
    """Whether torch's oneDNN has native bfloat16 kernels on this CPU (it
    honours ``ONEDNN_MAX_CPU_ISA``)."""
    import torch
    return (torch.backends.mkldnn.is_available()
            and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def use_amp(choice: str) -> bool:
    """Whether to train with ``--amp`` (``'auto'``: with CUDA, or on a CPU
    with native bfloat16; ``'on'`` / ``'off'`` force it)."""
    import torch
    if choice != 'auto':
        return choice == 'on'
    return torch.cuda.is_available() or bf16_supported()


def cpu_summary() -> dict:
    """The CPU's model name, the flags of :data:`CPU_FLAGS`, the instruction
    set torch dispatches to and any variable that caps it."""
    import torch
    info = read_cpuinfo()
    flags = set(info.get('flags', '').split())
    return dict(
        model_name=info.get('model name', platform.processor()),
        cores=os.cpu_count(),
        flags={flag: flag in flags for flag in CPU_FLAGS},
        torch_cpu_capability=torch.backends.cpu.get_cpu_capability(),
        onednn_bf16=bf16_supported(),
        isa_caps={name: os.environ[name] for name in ISA_VARIABLES
                  if name in os.environ})

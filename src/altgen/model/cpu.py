"""What this CPU computes fastest in, for the models that run on it."""

from __future__ import annotations

import torch


def fastest_dtype() -> torch.dtype:
    """bfloat16 where the CPU computes in it natively (AVX512-BF16 or AMX: several times float32's rate);
    else float32."""
    try:
        native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    except AttributeError:  # private probes: absent in some torch builds
        native = False
    return torch.bfloat16 if native else torch.float32

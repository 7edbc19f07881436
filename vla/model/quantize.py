"""Dynamic int8 quantization for CPU inference (`torch.ao.quantization.quantize_dynamic` on nn.Linear).

Weights become int8 with per-tensor scales; activations are quantized on the fly per call. The LM's
output embedding stays float: the constrained action head reads its rows directly (`decoding.ActionHead`)
and it is tied to the input embedding in most small LMs.
"""

from __future__ import annotations

import warnings
from typing import Any

from torch import nn


def quantize_dynamic_int8(model: Any) -> Any:
    """A copy of `model` with every nn.Linear but the LM head dynamically quantized to int8 (CPU only)."""
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    head = model.lm.get_output_embeddings()
    spec = {name: default_dynamic_qconfig for name, module in model.named_modules()
            if type(module) is nn.Linear and module is not head}
    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao (not installed)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
        return quantize_dynamic(model, spec, dtype=torch.qint8, inplace=False)

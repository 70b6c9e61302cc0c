"""PyTorch: export a module to ONNX with the recipe stored in the model's metadata."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path

import onnx
import torch

from parity.spec import RECIPE_METADATA_KEY, Recipe

STACK_TRACE_KEY = "pkg.torch.onnx.stack_trace"


def export_onnx(module: torch.nn.Module, path: Path, recipe: Recipe, opset: int = 18) -> dict[str, str]:
    """Export ``module`` (eval mode, dynamic batch) to ``path`` and store ``recipe`` in its metadata.

    Uses the dynamo exporter (``torch.onnx.export(dynamo=True)``, which needs onnxscript).
    Returns what ran: exporter, opset and torch version.
    """
    module = module.eval()
    example = torch.zeros(1, 3, recipe.crop_size, recipe.crop_size)
    batch = torch.export.Dim("batch", min=1, max=4096)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            (example,),
            dynamo=True,
            opset_version=opset,
            input_names=["input"],
            output_names=["logits"],
            dynamic_shapes=({0: batch},),
            verbose=False,
        )
    model = program.model_proto
    _drop_stack_traces(model.graph)
    info = {"exporter": "torch.onnx.export(dynamo=True)", "opset": str(opset), "torch": torch.__version__}
    for key, value in {RECIPE_METADATA_KEY: json.dumps(recipe.to_dict()), "parity.export": json.dumps(info)}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return info


def _drop_stack_traces(graph: onnx.GraphProto) -> None:
    """Remove the exporter's per-node Python stack traces: they embed local paths and make the file's
    hash depend on where torch is installed."""
    for node in graph.node:
        kept = [p for p in node.metadata_props if p.key != STACK_TRACE_KEY]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
        for attribute in node.attribute:
            for subgraph in [attribute.g, *attribute.graphs]:
                _drop_stack_traces(subgraph)

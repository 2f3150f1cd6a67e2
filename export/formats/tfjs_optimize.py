"""The TF.js converter's graph optimisation, with its batch norm fold vectorized.

`tensorflowjs` 4.22's `optimize_graph` runs grappler, folds each batch norm
into the convolution before it (`fold_batch_norms`), runs grappler again to
fuse the convolutions with their bias and activation, and fuses depthwise
convolutions. Its fold scales the convolution weights one element at a time
in Python (`np.nditer`): about 90% of a conversion, 4 s of a MobileNet V2
1.0. `fold_batch_norms` here does the same arithmetic on whole arrays:
the same float64 scale, each weight multiplied in float64 and rounded to
float32 once, so the same bits; the same nodes, names and order. It handles
the graphs the exporter freezes (a FusedBatchNorm(V3) right after a Conv2D
or DepthwiseConv2dNative, constant parameters) and raises on anything else,
where the converter would have skipped the node with a warning.

tests/test_tfjs.py checks the result against the converter's own TF Hub
path (hub.Module, legacy venv), node by node and weight byte by byte; and
tests/test_tfjs_optimize.py against `optimize_graph` unchanged.
"""

import contextlib
import types

import numpy as np
from tensorflow.core.framework import attr_value_pb2
from tensorflow.core.framework import graph_pb2
from tensorflow.core.framework import node_def_pb2
from tensorflow.python.framework import tensor_util

# The converter's: batch norm op -> the order of its inputs after the conv.
_BATCH_NORMS = ("FusedBatchNorm", "FusedBatchNormV3")
_CONVOLUTIONS = ("Conv2D", "DepthwiseConv2dNative")


def _node_name(tensor):
  return tensor.lstrip("^").split(":")[0]


def _const_value(node):
  if node.op != "Const":
    raise ValueError(f"batch norm fold: {node.name} is a {node.op}, not a "
                     "Const")
  return tensor_util.MakeNdarray(node.attr["value"].tensor)


def _scaled(weights, scale, op):
  """`weights` with output channel c multiplied by scale[c] (float64),
  rounded to float32: what the converter's element loop computes."""
  if op == "Conv2D":  # [h, w, in, out]
    product = weights * scale
  else:  # DepthwiseConv2dNative: [h, w, in, multiplier], channel in*m + j.
    product = weights * scale.reshape(weights.shape[2], weights.shape[3])
  return product.astype(weights.dtype)


def fold_batch_norms(input_graph_def):
  """`tensorflowjs.converters.fold_batch_norms.fold_batch_norms` for the
  exporter's frozen graphs: each batch norm becomes the convolution with
  scaled weights (`<conv>_weights`) plus a BiasAdd (named as the batch
  norm) of its offset (`<conv>_bn_offset`), appended after the other nodes
  in the converter's order."""
  nodes = {}
  for node in input_graph_def.node:
    if node.name in nodes:
      raise ValueError(f"duplicate node name {node.name}")
    nodes[node.name] = node
  skip, new_ops = set(), []
  for node in input_graph_def.node:
    if node.op not in _BATCH_NORMS:
      continue
    conv = nodes[_node_name(node.input[0])]
    if conv.op not in _CONVOLUTIONS:
      raise ValueError(f"batch norm fold: {node.name} follows a {conv.op}, "
                       f"not one of {_CONVOLUTIONS}")
    weights_op = nodes[_node_name(conv.input[1])]
    weights = _const_value(weights_op)
    gamma, beta, mean, variance = (
        _const_value(nodes[_node_name(name)]) for name in node.input[1:5])
    mean_op = nodes[_node_name(node.input[3])]
    # As the converter: the epsilon added in float32, the square root (and
    # so the scale and offset) in float64.
    scale = (1.0 / np.sqrt((variance + node.attr["epsilon"].f).astype(
        np.float64))) * gamma
    offset = (-mean * scale) + beta
    skip.update((node.name, weights_op.name, conv.name))

    scaled_weights_op = node_def_pb2.NodeDef(op="Const",
                                             name=conv.name + "_weights")
    scaled_weights_op.attr["dtype"].CopyFrom(weights_op.attr["dtype"])
    scaled_weights_op.attr["value"].CopyFrom(attr_value_pb2.AttrValue(
        tensor=tensor_util.make_tensor_proto(
            _scaled(weights, scale, conv.op), weights.dtype.type,
            weights.shape)))
    for i, name in enumerate(conv.input):
      if name == weights_op.name:
        conv.input[i] = scaled_weights_op.name
    new_conv = node_def_pb2.NodeDef()
    new_conv.CopyFrom(conv)
    offset_op = node_def_pb2.NodeDef(op="Const", name=conv.name + "_bn_offset")
    offset_op.attr["dtype"].CopyFrom(mean_op.attr["dtype"])
    offset_op.attr["value"].CopyFrom(attr_value_pb2.AttrValue(
        tensor=tensor_util.make_tensor_proto(offset, mean.dtype.type,
                                             offset.shape)))
    bias_add = node_def_pb2.NodeDef(op="BiasAdd", name=node.name)
    bias_add.attr["T"].CopyFrom(conv.attr["T"])
    bias_add.attr["data_format"].CopyFrom(conv.attr["data_format"])
    bias_add.input.extend([new_conv.name, offset_op.name])
    new_ops.extend([scaled_weights_op, new_conv, offset_op, bias_add])

  result = graph_pb2.GraphDef()
  for node in input_graph_def.node:
    if node.name in skip:
      continue
    new_node = result.node.add()
    new_node.CopyFrom(node)
    new_node.input[:] = [i for i in node.input
                         if not (i.startswith("^") and i[1:] in skip)]
  result.node.extend(new_ops)
  result.library.CopyFrom(input_graph_def.library)
  result.versions.CopyFrom(input_graph_def.versions)
  return result


@contextlib.contextmanager
def _fold_replaced(converter):
  # optimize_graph calls `fold_batch_norms.fold_batch_norms` through its
  # module's global; everything else it runs stays the converter's own.
  original = converter.fold_batch_norms
  converter.fold_batch_norms = types.SimpleNamespace(
      fold_batch_norms=fold_batch_norms)
  try:
    yield
  finally:
    converter.fold_batch_norms = original


def optimize_graph(converter, graph, signature_def):
  """`converter.optimize_graph(graph, signature_def)` (`converter`: the
  module tfjs_converter.load() gives) with the vectorized fold."""
  with _fold_replaced(converter):
    return converter.optimize_graph(graph, signature_def)

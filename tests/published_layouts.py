"""The published checkpoints' layouts and structure, kept apart from export/.

`layout(checkpoint)` reads testdata/published_layouts (see its README for the
public evidence behind every line). `V1_STRIDES` and `v1_layers` describe
MobileNet V1's published structure for references that must not borrow the
exporter's tables.
"""

import functools
import json
import os

_TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata",
                      "published_layouts", "published_layouts.json")

# Published checkpoint -> (architecture, depth multiplier, quantized).
CHECKPOINTS = {
    "mobilenet_v1_1.0_224": ("mobilenet_v1", 1.0, False),
    "mobilenet_v1_0.25_128_quant": ("mobilenet_v1", 0.25, True),
    "mobilenet_v1_1.0_224_quant": ("mobilenet_v1", 1.0, True),
    "mobilenet_v2_1.0_224": ("mobilenet_v2", 1.0, False),
    "mobilenet_v2_1.4_224": ("mobilenet_v2", 1.4, False),
    "mobilenet_v2_1.0_224_quant": ("mobilenet_v2", 1.0, True),
}


@functools.lru_cache(maxsize=None)
def _table():
  with open(_TABLE) as f:
    return json.load(f)


def layout(checkpoint):
  """{variable name: shape tuple} of a published checkpoint."""
  return {name: tuple(shape) for name, shape in _table()[checkpoint].items()}


# MobileNet V1 (mobilenet_v1.py MOBILENETV1_CONV_DEFS): the stride of
# Conv2d_0, then of each Conv2d_<i>_depthwise (its pointwise has stride 1).
V1_STRIDES = [2, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
V1_LOGITS = "Logits/Conv2d_1c_1x1"


def v1_layers():
  """[(layer scope, op, stride)] of MobileNet V1's body, in graph order;
  op is "conv" or "depthwise"."""
  layers = [("Conv2d_0", "conv", V1_STRIDES[0])]
  for i in range(1, 14):
    layers.append((f"Conv2d_{i}_depthwise", "depthwise", V1_STRIDES[i]))
    layers.append((f"Conv2d_{i}_pointwise", "conv", 1))
  return layers


def v1_quant_context(scope):
  """Where tf.contrib.quantize put a V1 layer's ranges (README, source 3)."""
  if scope == V1_LOGITS:
    return f"MobilenetV1/{scope}"
  return f"MobilenetV1/MobilenetV1/{scope}"

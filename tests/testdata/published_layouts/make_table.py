"""Writes published_layouts.json: the published checkpoints' variables.

Run once by hand (`python tests/testdata/published_layouts/make_table.py`);
the JSON it writes is the test data, and this script shows where each line
of it comes from. It deliberately imports nothing of the exporter: the
kernel shapes below are transcribed from public evidence (see README.md),
not computed by `export.architecture`.
"""

import json
import os

# --- MobileNet V1 -------------------------------------------------------------
# Output depth of Conv2d_0, then of Conv2d_1..13 (each a 3x3 depthwise over
# the previous depth, then a 1x1 pointwise to this depth). 1.0: the variable
# list of the published mobilenet_v1_1.0_224 graph (README, source 1). 0.25:
# each depth x 0.25, never below 8 (mobilenet_v1.py's depth(); the published
# 0.25 cards: 256 features).
V1_DEPTHS = {
    "1.0": [32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024,
            1024],
    "0.25": [8, 16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256],
}

# --- MobileNet V2 -------------------------------------------------------------
# Conv, then for expanded_conv, expanded_conv_1..16: (expanded depth, output
# depth); expanded_conv has no expand layer. Then Conv_1's depth.
# 1.4: the kernel shapes of the published mobilenet_v2_1.4_224 graph (README,
# source 2); 1.0: mobilenet_v2.py's V2_DEF (the expansion 6 x input depth).
V2_DEPTHS = {
    "1.4": (48, [(48, 24), (144, 32), (192, 32), (192, 48), (288, 48),
                 (288, 48), (288, 88), (528, 88), (528, 88), (528, 88),
                 (528, 136), (816, 136), (816, 136), (816, 224),
                 (1344, 224), (1344, 224), (1344, 448)], 1792),
    "1.0": (32, [(32, 16), (96, 24), (144, 24), (144, 32), (192, 32),
                 (192, 32), (192, 64), (384, 64), (384, 64), (384, 64),
                 (384, 96), (576, 96), (576, 96), (576, 160), (960, 160),
                 (960, 160), (960, 320)], 1280),
}

BATCH_NORM = ("beta", "gamma", "moving_mean", "moving_variance")
NUM_CLASSES = 1001


def _conv_bn(layout, scope, kernel_name, shape):
  layout[f"{scope}/{kernel_name}"] = shape
  for param in BATCH_NORM:
    layout[f"{scope}/BatchNorm/{param}"] = [shape[-1] if kernel_name ==
                                           "weights" else shape[2]]


def _logits(layout, net, in_depth):
  layout[f"{net}/Logits/Conv2d_1c_1x1/weights"] = [1, 1, in_depth, NUM_CLASSES]
  layout[f"{net}/Logits/Conv2d_1c_1x1/biases"] = [NUM_CLASSES]


def v1_layout(dm, quantized=False):
  depths = V1_DEPTHS[dm]
  layout = {}
  _conv_bn(layout, "MobilenetV1/Conv2d_0", "weights", [3, 3, 3, depths[0]])
  layers = ["Conv2d_0"]
  for i in range(1, 14):
    _conv_bn(layout, f"MobilenetV1/Conv2d_{i}_depthwise", "depthwise_weights",
             [3, 3, depths[i - 1], 1])
    _conv_bn(layout, f"MobilenetV1/Conv2d_{i}_pointwise", "weights",
             [1, 1, depths[i - 1], depths[i]])
    layers += [f"Conv2d_{i}_depthwise", f"Conv2d_{i}_pointwise"]
  _logits(layout, "MobilenetV1", depths[-1])
  if quantized:
    # tf.contrib.quantize names a layer's ranges after its ops' name scope:
    # MobilenetV1/MobilenetV1/<layer> in the body (mobilenet_v1() re-enters
    # its variable scope, opening a second name scope), MobilenetV1/Logits/...
    # for the classifier, built directly in mobilenet_v1() (README, source 3).
    contexts = [f"MobilenetV1/MobilenetV1/{layer}" for layer in layers]
    contexts.append("MobilenetV1/Logits/Conv2d_1c_1x1")
    for context in contexts:
      for quant in ("weights_quant", "act_quant"):
        for end in ("min", "max"):
          layout[f"{context}/{quant}/{end}"] = []
  return layout


def _ranges(layout, context, names=("weights_quant", "act_quant")):
  for quant in names:
    for end in ("min", "max"):
      layout[f"{context}/{quant}/{end}"] = []


def v2_layout(dm, quantized=False):
  first, blocks, last = V2_DEPTHS[dm]
  layout = {}
  _conv_bn(layout, "MobilenetV2/Conv", "weights", [3, 3, 3, first])
  layers = ["Conv"]
  in_depth = first
  for i, (expanded, out_depth) in enumerate(blocks):
    block = "expanded_conv" + (f"_{i}" if i else "")
    scope = f"MobilenetV2/{block}"
    if i:
      _conv_bn(layout, f"{scope}/expand", "weights",
               [1, 1, in_depth, expanded])
      layers.append(f"{block}/expand")
    _conv_bn(layout, f"{scope}/depthwise", "depthwise_weights",
             [3, 3, expanded, 1])
    _conv_bn(layout, f"{scope}/project", "weights",
             [1, 1, expanded, out_depth])
    layers += [f"{block}/depthwise", f"{block}/project"]
    if quantized and in_depth == out_depth and i:
      # The residual add (conv_blocks.expanded_conv: `net += input_tensor`
      # after the project layer's identity activation) is a post-activation
      # bypass to contrib.quantize, quantized in the context of the add op's
      # name scope, the block (README, source 4). V2's name scopes are not
      # doubled (mobilenet_base re-enters original_name_scope).
      _ranges(layout, scope, ("post_activation_bypass_quant",))
    in_depth = out_depth
  _conv_bn(layout, "MobilenetV2/Conv_1", "weights", [1, 1, in_depth, last])
  layers.append("Conv_1")
  _logits(layout, "MobilenetV2", last)
  if quantized:
    for layer in layers:
      _ranges(layout, f"MobilenetV2/{layer}")
    _ranges(layout, "MobilenetV2/Logits/Conv2d_1c_1x1")
  return layout


def main():
  table = {
      "mobilenet_v1_1.0_224": v1_layout("1.0"),
      "mobilenet_v1_0.25_128_quant": v1_layout("0.25", quantized=True),
      "mobilenet_v1_1.0_224_quant": v1_layout("1.0", quantized=True),
      "mobilenet_v2_1.0_224": v2_layout("1.0"),
      "mobilenet_v2_1.4_224": v2_layout("1.4"),
      "mobilenet_v2_1.0_224_quant": v2_layout("1.0", quantized=True),
  }
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "published_layouts.json")
  with open(path, "w") as f:
    f.write("{\n")
    for i, (checkpoint, layout) in enumerate(table.items()):
      f.write(f'  "{checkpoint}": {{\n')
      lines = [f'    "{name}": {json.dumps(shape)}'
               for name, shape in sorted(layout.items())]
      f.write(",\n".join(lines))
      f.write("\n  }" + ("," if i < len(table) - 1 else "") + "\n")
    f.write("}\n")


if __name__ == "__main__":
  main()

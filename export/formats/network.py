"""What both format writers do alike: the image input, the network call on
it, the check that the graph holds exactly the module's variables, and
keeping the graphs built last for other configs with the same key."""

import collections

from export import nets
from export.core import config
from export.nets import common


def image_shape(cfg, iface):
  """[batch, height, width, 3]: the config's size, or None x None where the
  module accepts other sizes (its card says "other input sizes are
  possible")."""
  size = None if iface.variable_input_size else cfg.input_size
  return [None, size, size, 3]


def outputs(cfg, iface, images, *, training, batch_norm_momentum,
            regularize=True):
  """Builds the module's network on `images` in [0, 1] (TF Hub's image
  range), mapped to the config's `input_range` (Slim's [-1, 1], or what a
  model of one's own saw in training).

  Args:
    training: batch norm uses batch statistics and updates its moving
      averages with momentum `batch_norm_momentum` (None: the
      architecture's default, a float, or a scalar tensor).
    regularize: whether the L2 losses go into REGULARIZATION_LOSSES.

  Returns:
    nets.NetOutputs (logits None for a feature vector module).
  """
  return nets.build(
      cfg.architecture, common.scale_images(images, cfg.input_range),
      depth_multiplier=cfg.depth_multiplier, num_classes=iface.num_classes,
      is_training=training, batch_norm_decay=batch_norm_momentum,
      quantized_input_range=iface.quantized_input_range,
      regularize=regularize)


def lite_images(cfg, images):
  """The float Lite files' input, pixels normalised to [-1, 1] as published
  (mean and std 127.5), mapped to the config's `input_range`: unchanged for
  Slim's [-1, 1]."""
  if tuple(cfg.input_range) == config.DEFAULT_INPUT_RANGE:
    return images
  return common.scale_images(images * 0.5 + 0.5, cfg.input_range)


def check_variables(have, layout):
  """Raises unless `have`, {name: shape} of the graph's variables, is the
  module's `layout`."""
  if have != layout:
    raise RuntimeError(f"graph variables differ from the module layout: "
                       f"{sorted(set(have.items()) ^ set(layout.items()))}")


class RecentGraphs:
  """The last `kept` graphs (or traces) this process built that other
  configs can share (`signatures.graph_key`): MobileNet V1's four input
  sizes of a multiplier are written from one graph each, with their own
  values, when one worker exports them (the runner sends them to the same
  worker)."""

  def __init__(self, kept):
    self._kept = kept
    self._graphs = collections.OrderedDict()

  def get(self, key, build):
    """The graph kept for `key`, else `build()` (kept, unless key is
    None)."""
    if key is None:
      return build()
    if key in self._graphs:
      self._graphs.move_to_end(key)
    else:
      self._graphs[key] = build()
      while len(self._graphs) > self._kept:
        self._graphs.popitem(last=False)
    return self._graphs[key]

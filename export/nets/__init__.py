"""TF-Slim graph builders for the exported architectures.

Importing this package applies the tf-slim compatibility fixes first, so any
Slim use below it works on current TensorFlow.
"""

from export import slim_compat  # pylint: disable=unused-import  # Must be first.
from export.nets import mobilenet_v1
from export.nets.common import NetOutputs

_NETS = {"mobilenet_v1": mobilenet_v1}


def _net(architecture):
  try:
    return _NETS[architecture]
  except KeyError:
    raise ValueError(f"no graph builder for architecture {architecture!r}; "
                     f"have {sorted(_NETS)}") from None


def build(architecture, images, **kwargs):
  """Builds `architecture` on `images` scaled to [-1, 1]; returns NetOutputs."""
  return _net(architecture).build(images, **kwargs)


def regularized_kernels(architecture, depth_multiplier, num_classes):
  """{kernel variable name: regularizer} the graph applies L2 loss to."""
  return _net(architecture).regularized_kernels(depth_multiplier, num_classes)

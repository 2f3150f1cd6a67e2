"""TF-Slim graph builders for the exported architectures.

Importing this package applies the tf-slim compatibility fixes first, so any
Slim use below it works on current TensorFlow.
"""

from export.nets import slim_compat  # pylint: disable=unused-import  # Must be first.
from export.nets.common import NetOutputs
from export.nets.mobilenet import build as _build
from export.nets.mobilenet import regularized_kernels


def build(architecture, images, **kwargs):
  """Builds `architecture` on `images` scaled to [-1, 1]; returns NetOutputs.

  See `export.nets.mobilenet.build` for the arguments.
  """
  return _build(images, architecture=architecture, **kwargs)


__all__ = ["build", "regularized_kernels", "NetOutputs"]

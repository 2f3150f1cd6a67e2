"""TF-Slim graph builders for the exported architectures.

Importing this package applies the tf-slim compatibility fixes first, so any
Slim use below it works on current TensorFlow.
"""

from export import slim_compat  # pylint: disable=unused-import  # Must be first.
from export.nets import mobilenet_v1
from export.nets.common import NetOutputs

_BUILDERS = {"mobilenet_v1": mobilenet_v1.build}


def build(architecture, images, **kwargs):
  """Builds `architecture` on `images` scaled to [-1, 1]; returns NetOutputs."""
  try:
    builder = _BUILDERS[architecture]
  except KeyError:
    raise ValueError(f"no graph builder for architecture {architecture!r}; "
                     f"have {sorted(_BUILDERS)}") from None
  return builder(images, **kwargs)

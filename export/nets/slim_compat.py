"""Makes tf-slim 1.1.0 work on current TensorFlow (2.16+ with tf-keras).

tf-slim 1.1.0 was last released for TF 2.x with Keras 2 bundled. Two things it
relies on are gone in current TensorFlow, and both break the layers MobileNet
uses:

1. `slim.batch_norm` (non-fused path) instantiates the legacy
   `tf.compat.v1.layers.BatchNormalization`, which TensorFlow lazily imports
   from `tf_keras.legacy_tf_layers`. tf-keras 2.16+ keeps that package at
   `tf_keras.src.legacy_tf_layers`, so the import fails with
   "No module named 'tf_keras.legacy_tf_layers'".
2. The fused path (`fused=True`, or `updates_collections=None`) calls
   `tf_slim.layers.utils.constant_value`, which tests
   `isinstance(x, tensorflow.python.framework.ops.Tensor)`; `ops.Tensor` moved
   to `tensorflow.python.framework.tensor.Tensor` and the alias was removed.

`apply()` registers the old module path as an alias of the new one and
restores the `ops.Tensor` alias, only where they are missing, so it is a
no-op on TensorFlow versions that still have both (e.g. TF 2.15). Import this
module (or `export.nets`, which does) before building any Slim graph.
"""

import importlib
import sys

_LEGACY_LAYERS = "tf_keras.legacy_tf_layers"
_LEGACY_LAYERS_NEW_HOME = "tf_keras.src.legacy_tf_layers"
_LEGACY_SUBMODULES = ("base", "core", "convolutional", "normalization",
                      "pooling", "variable_scope_shim")


def _module_exists(name):
  try:
    importlib.import_module(name)
    return True
  except ImportError:
    return False


def _alias_legacy_tf_layers():
  if _module_exists(_LEGACY_LAYERS) or not _module_exists(
      _LEGACY_LAYERS_NEW_HOME):
    return
  sys.modules[_LEGACY_LAYERS] = importlib.import_module(_LEGACY_LAYERS_NEW_HOME)
  for sub in _LEGACY_SUBMODULES:
    new = f"{_LEGACY_LAYERS_NEW_HOME}.{sub}"
    if _module_exists(new):
      sys.modules[f"{_LEGACY_LAYERS}.{sub}"] = importlib.import_module(new)


def _restore_ops_tensor_alias():
  from tensorflow.python.framework import ops  # pylint: disable=g-direct-tensorflow-import
  if not hasattr(ops, "Tensor"):
    from tensorflow.python.framework import tensor  # pylint: disable=g-direct-tensorflow-import
    ops.Tensor = tensor.Tensor


def apply():
  """Applies both fixes; idempotent."""
  _alias_legacy_tf_layers()
  _restore_ops_tensor_alias()


apply()

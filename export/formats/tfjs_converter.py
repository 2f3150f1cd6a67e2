"""Imports the TF.js converter's graph model conversion (stdlib only).

tensorflowjs 4.22 is installed without its dependencies (scripts/setup.sh:
tensorflow-decision-forests pins another TensorFlow). Its package
`__init__`s import the JAX and Keras converters, which graph models do not
use, so its packages are entered without running them; and the converter
module imports tensorflow_decision_forests only to register TFDF ops for
SavedModels that hold decision forests, which no MobileNet does: an empty
module stands in for it, and only while importing. This file imports
nothing of the exporter, so the tests load it by path in the legacy venv
too (tests/legacy_tfjs_converter.py).
"""

import importlib
import importlib.util
import os
import sys
import types

MODULE = "tensorflowjs.converters.tf_saved_model_conversion_v2"


def load():
  """The module `tensorflowjs.converters.tf_saved_model_conversion_v2`."""
  if MODULE in sys.modules:
    return sys.modules[MODULE]
  spec = importlib.util.find_spec("tensorflowjs")
  if spec is None:
    raise RuntimeError("tensorflowjs is not installed: scripts/setup.sh "
                       "installs tensorflowjs==4.22.0 (without its "
                       "dependencies) into .venv")
  root = spec.submodule_search_locations[0]
  for package, path in (("tensorflowjs", root),
                        ("tensorflowjs.converters",
                         os.path.join(root, "converters"))):
    if package not in sys.modules:
      module = types.ModuleType(package)
      module.__path__ = [path]
      sys.modules[package] = module
  tfdf = "tensorflow_decision_forests"
  had_tfdf = tfdf in sys.modules
  sys.modules.setdefault(tfdf, types.ModuleType(tfdf))
  try:
    return importlib.import_module(MODULE)
  finally:
    if not had_tfdf:
      del sys.modules[tfdf]

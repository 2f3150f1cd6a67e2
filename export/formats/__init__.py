"""Format writers behind one interface.

    write(cfg, iface, values, export_dir)

writes the module whose `core.signatures.Interface` is `iface` (its format,
kind, input size, momentum input, quantization) from checkpoint `values`
({variable name: array}, exactly the module's variables) into `export_dir`,
which must not exist. `hub_v1` writes the TF1 Hub format, `saved_model`
TF2 SavedModels; both build the network through `network`.
"""

import importlib

from export.core import config

# Format -> the module writing it (imported on use: TensorFlow loads only
# when something is really written).
WRITERS = {config.FORMAT_HUB: "export.formats.hub_v1",
           config.FORMAT_SAVED_MODEL_2: "export.formats.saved_model"}
NAMES = {config.FORMAT_HUB: "TF1 Hub format",
         config.FORMAT_SAVED_MODEL_2: "TF2 SavedModel"}


def write(cfg, iface, values, export_dir):
  importlib.import_module(WRITERS[iface.format]).write(cfg, iface, values,
                                                       export_dir)

"""Format writers behind one interface.

    write = writer(cfg, network_iface, values)
    write(iface, export_dir)

`writer` builds the network of the modules whose `core.signatures.Interface`
has `.network == network_iface` from checkpoint `values` ({variable name:
array}, exactly the modules' variables); `write` writes one of them into
`export_dir`, which must not exist. `hub_v1` writes the TF1 Hub format,
`saved_model` TF2 SavedModels (versions 4 and 5 from one traced network),
`lite` TensorFlow Lite files (both variants from one conversion); all build
the network through `nets`, the first two through `network`.
"""

import importlib

from export.core import config

# Format -> the module writing it (imported on use: TensorFlow loads only
# when something is really written).
WRITERS = {config.FORMAT_HUB: "export.formats.hub_v1",
           config.FORMAT_SAVED_MODEL_2: "export.formats.saved_model",
           config.FORMAT_LITE: "export.formats.lite"}
NAMES = {config.FORMAT_HUB: "TF1 Hub format",
         config.FORMAT_SAVED_MODEL_2: "TF2 SavedModel",
         config.FORMAT_LITE: "TensorFlow Lite"}


def writer(cfg, network_iface, values):
  write = importlib.import_module(WRITERS[network_iface.format]).writer(
      cfg, network_iface, values)

  def checked_write(iface, export_dir):
    if iface.network != network_iface:
      raise ValueError(f"{iface} has another network than {network_iface}")
    write(iface, export_dir)
  return checked_write

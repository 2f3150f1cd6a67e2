"""Format writers behind one interface.

    write = writer(cfg, network_iface, values)
    write(iface, export_dir)

`writer` builds the network of the modules whose `core.signatures.Interface`
has `.network == network_iface` from checkpoint `values` ({variable name:
array}, exactly the modules' variables); `write` writes one of them into
`export_dir`, which must not exist. `hub_v1` writes the TF1 Hub format,
`saved_model` TF2 SavedModels (versions 4 and 5 from one traced network),
`lite` TensorFlow Lite files (both variants from one conversion); all build
the network through `nets`, the first two through `network`. `tfjs` converts
TF1 modules' graphs to TF.js graph models: its models share their parent's
network, and its writer is made from the TF1 writer (`CONVERTED_FROM`).
`onnx` writes ONNX models: float ones from the values, quantized ones
converted from the Lite file of the same modules.
"""

import importlib

from export.core import config

# Format -> the module writing it (imported on use: TensorFlow loads only
# when something is really written).
WRITERS = {config.FORMAT_HUB: "export.formats.hub_v1",
           config.FORMAT_SAVED_MODEL_2: "export.formats.saved_model",
           config.FORMAT_LITE: "export.formats.lite",
           config.FORMAT_TFJS: "export.formats.tfjs",
           config.FORMAT_ONNX: "export.formats.onnx"}
NAMES = {config.FORMAT_HUB: "TF1 Hub format",
         config.FORMAT_SAVED_MODEL_2: "TF2 SavedModel",
         config.FORMAT_LITE: "TensorFlow Lite",
         config.FORMAT_TFJS: "TF.js graph model",
         config.FORMAT_ONNX: "ONNX model"}
# Formats converted from another format's written network: their module's
# `converter(cfg, base_writer)` returns their `write`.
# Quantized ONNX models are converted from their Lite file; float ones are
# written from the values (their network's format is onnx).
CONVERTED_FROM = {config.FORMAT_TFJS: config.FORMAT_HUB,
                  config.FORMAT_ONNX: config.FORMAT_LITE}


def writer(cfg, network_iface, values):
  base = importlib.import_module(WRITERS[network_iface.format]).writer(
      cfg, network_iface, values)
  converters = {}  # format -> write, made on first use

  def checked_write(iface, export_dir):
    if iface.network != network_iface:
      raise ValueError(f"{iface} has another network than {network_iface}")
    if iface.format == network_iface.format:
      return base(iface, export_dir)
    if CONVERTED_FROM.get(iface.format) != network_iface.format:
      raise ValueError(f"{iface.format} is not converted from "
                       f"{network_iface.format}")
    if iface.format not in converters:
      converters[iface.format] = importlib.import_module(
          WRITERS[iface.format]).converter(cfg, base)
    return converters[iface.format](iface, export_dir)
  return checked_write

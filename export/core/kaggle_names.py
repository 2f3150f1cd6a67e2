"""Kaggle Models' names of a module: its framework and variation slugs, and
the Kaggle handle of a model of one's own.

Pure naming rules (no I/O, no TensorFlow), in core so that both the cards
(which show a model of one's own loaded from Kaggle) and
`export/destinations/kaggle_layout.py` (which places every module on
Kaggle) use the same ones; the layout's docstring and
tests/testdata/kaggle_layout give the evidence.
"""

from export.core import published

# The format as Kaggle's clients spell the framework.
FRAMEWORKS = {published.FORMAT_HUB: "tensorFlow1",
              published.FORMAT_SAVED_MODEL_2: "tensorFlow2",
              published.FORMAT_LITE: "tfLite",
              published.FORMAT_TFJS: "tfJs",
              published.FORMAT_ONNX: "onnx"}
# The family's Kaggle models, by architecture.
MODELS = {"mobilenet_v1": "mobilenet-v1", "mobilenet_v2": "mobilenet-v2"}
QUANTOPS = "quantops"
METADATA_SUFFIX = "-metadata"
# A model of one's own holds one version of each (framework, variation), and
# so does every ONNX variation.
CUSTOM_VERSION = 1
ONNX_VERSION = 1
WEB_URL = "https://www.kaggle.com/models/"


def _lite_slug(cfg, module):
  """A Lite model's name without the architecture, `.` and `_` as `-`."""
  name = published.lite_model_name(
      cfg.architecture, cfg.depth_multiplier, cfg.input_size,
      cfg.quantized or bool(module.quantization))
  return name[len(cfg.architecture) + 1:].replace(".", "-").replace("_", "-")


def variation(cfg, module):
  """The module's variation slug: multiplier (3 digits), input size and
  kind, `100-224-classification`; quantops `050-128-quantops-feature-vector`;
  a Lite file: its model name without the architecture, `.` and `_` as `-`
  (`1-0-224-quantized`), with `-metadata` for the metadata variant. ONNX
  models take their source's: a float one the TF2 module's
  (`050-160-classification`), a quantized one the quantized Lite file's
  (`0-25-128-quantized`), with its kind after it for a feature vector
  (`0-25-128-quantized-feature-vector`)."""
  if module.is_lite:
    return _lite_slug(cfg, module) + (
        METADATA_SUFFIX if module.variant == "metadata" else "")
  if module.is_onnx and (cfg.quantized or module.quantization):
    return _lite_slug(cfg, module) + (
        "" if module.kind == "classification"
        else "-" + module.kind.replace("_", "-"))
  parts = [published.multiplier_code(cfg.depth_multiplier),
           str(cfg.input_size)]
  if module.quantized and not module.is_onnx:
    parts.append(QUANTOPS)
  parts.append(module.kind.replace("_", "-"))
  return "-".join(parts)


def custom_handle(cfg, module):
  """`<owner>/<model>/<framework>/<variation>/1` of a module of one's own:
  where `export.kaggle` publishes it under its config's `model.kaggle_owner`
  and `model.kaggle_model`."""
  return (f"{cfg.model.kaggle_owner}/{cfg.model.kaggle_model}/"
          f"{FRAMEWORKS[module.format]}/{variation(cfg, module)}/"
          f"{CUSTOM_VERSION}")


def onnx_handle(cfg, module):
  """`<owner>/<model>/onnx/<variation>/1`: where `export.kaggle` publishes
  ONNX model `module` unless `--owner` moves it (the family's: under its
  publisher, in model mobilenet-v1 or -v2)."""
  if cfg.custom:
    return custom_handle(cfg, module)
  publisher = module.handle.split("/", 1)[0]
  return (f"{publisher}/{MODELS[cfg.architecture]}/{FRAMEWORKS[module.format]}"
          f"/{variation(cfg, module)}/{ONNX_VERSION}")


def lite_file(module):
  """The name of a Lite version's one file on Kaggle."""
  # Kaggle serves a migrated Lite version's file as `<tfhub version>.tflite`
  # ("Download 1.tflite from Kaggle", tests/testdata/kaggle_layout E19).
  return f"{module.handle.rsplit('/', 1)[1]}.tflite"

"""Writes TensorFlow Lite models, as published under tensorflow/<name>/1.

A Lite file is the classifier as an app runs it: one image in, the softmax
probabilities [1, 1001] out, at the config's fixed size. Its conventions are
the published ones (`published.LITE_*`):

* float: float32 [1, H, W, 3], pixels normalised to [-1, 1] (mean 127.5, std
  127.5), the network's own input range;
* quantized: uint8 [1, H, W, 3] raw pixels (scale 1/128, zero point 128) and
  uint8 probabilities (scale 1/256, zero point 0). The quantops graph (folded
  batch norm, fake quant over the checkpoint's ranges) is converted as it is:
  every quantization parameter comes from the checkpoint, none from a
  calibration set. Its input fake-quant covers exactly the input's uint8 grid,
  so the converter gives the input the published scale and zero point and
  adds no requantization;
* post-training quantized (a float checkpoint of one's own): the quantized
  convention, uint8 raw pixels (scale 1/128, zero point 128) whatever the
  calibration images. The converter would take the input's range from
  them (dark photos give scale 1/255, zero point 255: pixels read as
  [-1, 0]), so the model is calibrated first, its input's range then set to
  the published uint8 grid, and only then quantized: every op after the
  input is quantized for that range, as for any calibrated one.

All are converted from the same TF-Slim graph as the other formats (tensor
names as in Slim's `export_inference_graph`: `input`, `<scope>/Predictions/
Reshape_1`). The `metadata` variant is the `default` file with TFLite model
metadata and the label file added by the TFLite support library
(`lite_metadata.py`, run in its own virtualenv: its protobuf pin conflicts
with TensorFlow's).
"""

import dataclasses
import json
import os
import subprocess
import tempfile

import numpy as np
from PIL import Image
import tensorflow.compat.v1 as tf
# The converter's own quantizer and model editing (tf.lite's
# QuantizationDebugger quantizes calibrated models the same way).
from tensorflow.lite.python import convert as lite_convert  # pylint: disable=g-direct-tensorflow-import
from tensorflow.lite.tools import flatbuffer_utils  # pylint: disable=g-direct-tensorflow-import

from export import nets
from export.core import architecture
from export.core import config as config_lib
from export.core import published
from export.core import signatures
from export.formats import network

MODEL_FILE = published.LITE_MODEL_FILE
INPUT_NAME = "input"
LABELS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                           "imagenet_labels.txt")
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# The Python of the virtualenv with the TFLite support library
# (scripts/setup.sh creates .venv-lite); EXPORT_LITE_PYTHON overrides it.
LITE_PYTHON_VARIABLE = "EXPORT_LITE_PYTHON"
DEFAULT_LITE_PYTHON = os.path.join(_REPO, ".venv-lite", "bin", "python")
# Under Bazel the exporter runs from runfiles, beside @project_venv's
# launcher of that Python.
_RUNFILES_LITE_PYTHON = os.path.join(os.path.dirname(_REPO), "project_venv",
                                     "lite_python")
_METADATA_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lite_metadata.py")


class _Constants:
  """Custom getter handing Slim the checkpoint values as constants: the
  converter wants a graph without variables."""

  def __init__(self, values):
    self.values = values
    self.shapes = {}

  def __call__(self, getter, name, *args, **kwargs):
    del getter, args, kwargs
    if name not in self.values:
      raise KeyError(f"graph asks for {name}, which the module does not hold")
    self.shapes[name] = tuple(self.values[name].shape)
    return tf.constant(self.values[name], name=name.rsplit("/", 1)[-1])


# Post-training quantization: of the config's calibration images (sorted by
# path), every HELD_OUT_EVERY-th is kept out of the representative dataset
# and measures the quantized file's top-1 agreement with the float one.
HELD_OUT_EVERY = 5


def calibration_split(cfg):
  """(representative image paths, held-out image paths) of the config's
  calibration directory."""
  paths = config_lib.calibration_images(cfg.calibration)
  held_out = paths[HELD_OUT_EVERY - 1::HELD_OUT_EVERY]
  return [p for p in paths if p not in set(held_out)], held_out


def load_pixels(paths, size):
  """The images at `paths` as a user feeds the quantized Lite file: decoded
  with Pillow, RGB, resized to size x size (bilinear); uint8
  [1, size, size, 3] each."""
  pixels = []
  for path in paths:
    with Image.open(path) as image:
      resized = image.convert("RGB").resize((size, size), Image.BILINEAR)
    pixels.append(np.asarray(resized, np.uint8)[None])
  return pixels


def normalized(pixels):
  """uint8 pixels as the float Lite file takes them: (p - mean) / std,
  float32."""
  return ((pixels.astype(np.float32) - published.LITE_INPUT_MEAN) /
          published.LITE_INPUT_STD)


def _top1(model, images):
  """The class each image gets from Lite model `model` (bytes)."""
  interpreter = tf.lite.Interpreter(model_content=model)
  interpreter.allocate_tensors()
  inp = interpreter.get_input_details()[0]
  out = interpreter.get_output_details()[0]
  classes = []
  for image in images:
    interpreter.set_tensor(inp["index"], image)
    interpreter.invoke()
    classes.append(int(np.argmax(interpreter.get_tensor(out["index"])[0])))
  return classes


def agreement_report(cfg, float_model, quantized_model, held_out):
  """The quantized file's top-1 agreement with the float one on the
  held-out calibration images, fed as a user would: the decoded uint8
  pixels into the quantized file, the same pixels normalised into the float
  one."""
  pixels = load_pixels(held_out, cfg.input_size)
  same = sum(a == b for a, b in zip(
      _top1(float_model, [normalized(p) for p in pixels]),
      _top1(quantized_model, pixels)))
  share = same / len(pixels) if pixels else None
  return {"top1_agreement": share, "held_out_images": len(pixels),
          "summary": (f"top-1 agreement with the float model "
                      f"{share:.1%} on {len(pixels)} held-out images"
                      if pixels else "no held-out images")}


def _quantize_calibrated(calibrated):
  """The full-integer model of `calibrated` (a float model with the
  calibration's ranges, TFLiteConverter's calibrate-only output), its input
  given the published uint8 grid as range: the quantizer then gives the
  input the published scale and zero point, and quantizes the ops reading
  it (bias scales, requantization) for them."""
  model = flatbuffer_utils.convert_bytearray_to_object(calibrated)
  graph = model.subgraphs[0]
  ranges = graph.tensors[graph.inputs[0]].quantization
  low, high = signatures.lite_quantized_input_range()
  ranges.min, ranges.max = [low], [high]
  quantized = lite_convert.deduplicate_readonly_buffers(
      lite_convert.mlir_quantize(
          bytes(flatbuffer_utils.convert_object_to_bytearray(model)),
          input_data_type=tf.uint8, output_data_type=tf.uint8))
  model = flatbuffer_utils.convert_bytearray_to_object(quantized)
  graph = model.subgraphs[0]
  params = graph.tensors[graph.inputs[0]].quantization
  got = (float(params.scale[0]), int(params.zeroPoint[0]))
  if got != published.LITE_QUANTIZED_INPUT:
    raise RuntimeError(f"post-training quantization gave the input scale "
                       f"{got[0]}, zero point {got[1]}, not the published "
                       f"{published.LITE_QUANTIZED_INPUT}")
  return quantized


def convert(cfg, iface, values, representative=None):
  """Returns the Lite flatbuffer (bytes) of the network of `iface`;
  post-training quantized over `representative` (normalised images, as the
  float file takes them) if given."""
  graph = tf.Graph()
  with graph.as_default():
    images = tf.placeholder(tf.float32, [1, cfg.input_size, cfg.input_size, 3],
                            name=INPUT_NAME)
    constants = _Constants(values)
    with tf.variable_scope("", custom_getter=constants):
      out = nets.build(cfg.architecture, network.lite_images(cfg, images),
                       depth_multiplier=cfg.depth_multiplier,
                       num_classes=iface.num_classes, is_training=False,
                       quantized_input_range=iface.quantized_input_range,
                       regularize=False)
    # Slim's softmax, <Scope>/Predictions/Reshape_1 as in its inference
    # graphs.
    probabilities = out.end_points[architecture.PREDICTIONS_END_POINT]
    network.check_variables(constants.shapes,
                            {n: tuple(v.shape) for n, v in values.items()})
    with tf.Session(graph=graph) as session:
      converter = tf.lite.TFLiteConverter.from_session(
          session, [images], [probabilities])
      if representative is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([i] for i in
                                                    representative)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
        converter._experimental_calibrate_only = True  # pylint: disable=protected-access
        return _quantize_calibrated(converter.convert())
      if iface.quantized:
        # real = (q - mean) / std: the published input scale and zero point.
        scale, zero_point = published.LITE_QUANTIZED_INPUT
        converter.inference_type = tf.uint8
        converter.quantized_input_stats = {INPUT_NAME: (zero_point,
                                                        1 / scale)}
      return converter.convert()


def metadata_facts(cfg, iface):
  """What the `metadata` variant's model metadata says (lite_metadata.py)."""
  quantized = iface.quantized or iface.post_training_quantized
  if cfg.custom:
    return dict(
        name=cfg.model.title + (" (quantized)" if quantized else ""),
        description=cfg.model.description, version="v1",
        author=cfg.model.authors, license=cfg.model.license,
        mean=published.LITE_INPUT_MEAN, std=published.LITE_INPUT_STD)
  family = published.FAMILIES[cfg.architecture]
  return dict(
      name=f"{family.title} image classifier" +
      (" (quantized)" if iface.quantized else ""),
      description=published.LITE_METADATA["description"].format(
          num_classes=cfg.num_classes),
      version=published.LITE_METADATA["version"],
      author=published.LITE_METADATA["author"],
      license=published.LITE_METADATA["license"],
      mean=published.LITE_INPUT_MEAN, std=published.LITE_INPUT_STD)


def lite_python():
  """The Python that has the TFLite support library, or an error saying how
  to get it."""
  python = os.environ.get(LITE_PYTHON_VARIABLE) or (
      _RUNFILES_LITE_PYTHON if os.path.exists(_RUNFILES_LITE_PYTHON)
      else DEFAULT_LITE_PYTHON)
  if not os.path.exists(python):
    raise RuntimeError(
        f"{python} does not exist: the metadata variant of Lite models is "
        f"written with the TFLite support library, in its own virtualenv; "
        f"run scripts/setup.sh (creates .venv-lite) or set "
        f"{LITE_PYTHON_VARIABLE} to a Python that has tflite-support")
  return python


def labels_file(cfg):
  """The config's label file (ImageNet's with background by default)."""
  return cfg.labels or LABELS_FILE


def add_metadata(model, facts, labels_path, output_path):
  """Writes `model` with metadata `facts` and the label file to
  `output_path`, by running lite_metadata.py in the support library's
  virtualenv."""
  with tempfile.TemporaryDirectory() as tmp:
    model_path = os.path.join(tmp, MODEL_FILE)
    with open(model_path, "wb") as f:
      f.write(model)
    result = subprocess.run(
        [lite_python(), _METADATA_SCRIPT, "--model", model_path,
         "--labels", labels_path, "--output", output_path,
         "--facts", json.dumps(facts, sort_keys=True)],
        capture_output=True, text=True, check=False)
  if result.returncode:
    raise RuntimeError(f"writing Lite metadata failed: {result.stderr[-2000:]}")


def writer(cfg, network_iface, values):
  """Converts the network of modules with `network_iface` once; returns
  `write(iface, export_dir)`, writing `export_dir/model.tflite` of one of
  them (its `metadata` variant adds metadata to the same model)."""
  report = None
  if network_iface.post_training_quantized:
    representative, held_out = calibration_split(cfg)
    model = convert(cfg, network_iface, values,
                    [normalized(p) for p in load_pixels(representative,
                                                        cfg.input_size)])
    report = agreement_report(
        cfg, convert(cfg, dataclasses.replace(
            network_iface, post_training_quantized=False), values),
        model, held_out)
  else:
    model = convert(cfg, network_iface, values)

  def write(iface, export_dir):
    os.makedirs(export_dir)
    path = os.path.join(export_dir, MODEL_FILE)
    if iface.lite_metadata:
      add_metadata(model, metadata_facts(cfg, iface), labels_file(cfg), path)
    else:
      with open(path, "wb") as f:
        f.write(model)
    return report
  return write

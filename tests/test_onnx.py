"""ONNX models (export/formats/onnx.py, onnx_lite.py) in ONNX Runtime (CPU).

The ONNX models of V1 0.5/160 and V2 1.0/224, exported as `export.one`
exports them (the runner, tests/conftest.py `variant`), against the version
5 SavedModels exported from the same synthetic checkpoint; the exported QDQ
models of V1 0.25/128 quant against the exported quantized Lite file in
LiteRT on natural photos (skimage.data) (and tests/test_custom_models.py
a post-training quantized V2 of one's own likewise); the full ONNX
checker, metadata. Each comparison is also run on a deliberately
broken model (TensorFlow's "SAME" padding as SAME_LOWER, a missing ReLU6)
to show that it catches it. The facts about ONNX and ONNX Runtime relied on
are in tests/testdata/onnx/README.md. tests/test_onnx_export.py checks the
rest of the pipeline (configs, export.one's bytes in another process,
export.verify, cards).
"""

import os

import numpy as np
import pytest

from export.core import architecture
from export.core import config
from export.core import signatures

FLOAT = ["v1_050_160", "v2_100_224"]
QUANT = "v1_025_128_quant"
KINDS = ["classification", "feature_vector"]
# "Within 1e-5 of magnitude": max |onnx - saved model| <= 1e-5 * max |saved
# model|.
TOLERANCE = 1e-5
# One quantization step, and the float32 rounding of dequantizing it.
ONE_STEP = 1 + 1e-4
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def _iface(kind, variable_input_size=False, **kwargs):
  """An ONNX module's Interface, made by hand (writer-level tests)."""
  return signatures.Interface(format=config.FORMAT_ONNX, kind=kind,
                              variable_input_size=variable_input_size,
                              batch_norm_momentum_input=False,
                              handle=f"test/onnx-model/{kind}/1", **kwargs)


def onnx_module(cfg, kind):
  """The config's ONNX module of `kind`."""
  return next(m for m in cfg.modules if m.is_onnx and m.kind == kind)


def ort_session(model):
  """An ONNX Runtime CPU session of `model` (a path or a ModelProto)."""
  import onnxruntime as ort
  if not isinstance(model, str):
    model = model.SerializeToString()
  options = ort.SessionOptions()
  options.log_severity_level = 3
  return ort.InferenceSession(model, options,
                              providers=["CPUExecutionProvider"])


def _v5(cfg, kind):
  return next(m for m in cfg.modules
              if m.kind == kind and m.format == config.FORMAT_SAVED_MODEL_2
              and m.version == 5)


class Float:
  """A float config's exported version 5 SavedModels and ONNX models, from
  one synthetic checkpoint (the session's exports: the runner, as
  `export.one` runs it)."""

  def __init__(self, variant, name):
    import tensorflow as tf
    cfg = config.load(name)
    v5 = variant(name, only=[_v5(cfg, kind).handle for kind in KINDS])
    exported = variant(name, only=[onnx_module(cfg, kind).handle
                                   for kind in KINDS])
    self.cfg, self.onnx, self.saved_model, self.variable = cfg, {}, {}, {}
    self.modules = {}
    for kind in KINDS:
      module = onnx_module(cfg, kind)
      self.modules[kind] = module
      # The ONNX model takes other sizes exactly where the SavedModel does.
      self.variable[kind] = module.variable_input_size
      assert self.variable[kind] == signatures.interface(
          _v5(cfg, kind)).variable_input_size
      self.onnx[kind] = os.path.join(exported.modules[module.handle],
                                     "model.onnx")
      self.saved_model[kind] = tf.saved_model.load(
          v5.module(kind, 5)).signatures[signatures.SERVING_SIGNATURE]

  def expected(self, kind, batch):
    import tensorflow as tf
    return self.saved_model[kind](**{signatures.SERVING_INPUT: tf.constant(
        batch)})[signatures.SERVING_OUTPUT].numpy()

  def sizes(self, kind):
    """The config's size, and where the SavedModel takes others, another
    multiple of 32 and an odd size. (At even sizes TensorFlow pads the
    stride 2 layers by one pixel at the end only; at this odd size by one
    on both sides.)"""
    size = self.cfg.input_size
    return [size, size + 32, size - 31] if self.variable[kind] else [size]


@pytest.fixture(scope="module")
def float_models(variant):
  cache = {}

  def get(name):
    if name not in cache:
      cache[name] = Float(variant, name)
    return cache[name]
  return get


def relative_error(got, want):
  return float(np.abs(got - want).max() / np.abs(want).max())


def _images(size, batch, seed):
  return np.random.default_rng(seed).uniform(
      0.0, 1.0, (batch, size, size, 3)).astype(np.float32)


def _float_errors(models, kind, session):
  """{(size, batch): relative error} of `session`'s first output against
  the SavedModel; classifiers' feature vectors against the feature vector
  SavedModel's too."""
  errors = {}
  for size in models.sizes(kind):
    for batch in (1, 4):
      images = _images(size, batch, seed=size + batch)
      outputs = session.run(None, {"images": images})
      errors[(size, batch)] = relative_error(
          outputs[0], models.expected(kind, images))
      if kind == "classification":
        errors[(size, batch, "feature_vector")] = relative_error(
            outputs[1], models.expected("feature_vector", images))
  return errors


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", FLOAT)
def test_float_model_equals_saved_model_v5(float_models, name, kind):
  models = float_models(name)
  errors = _float_errors(models, kind, ort_session(models.onnx[kind]))
  print(f"{name} {kind}: relative error {errors}")
  assert max(errors.values()) <= TOLERANCE, errors
  # Dynamic batch; height and width dynamic exactly where the SavedModel
  # takes other sizes.
  (image,) = ort_session(models.onnx[kind]).get_inputs()
  size = models.cfg.input_size
  assert image.name == "images" and image.type == "tensor(float)"
  assert image.shape == (["batch", "height", "width", 3]
                         if models.variable[kind]
                         else ["batch", size, size, 3])
  outputs = {o.name: o.shape for o in ort_session(models.onnx[kind]).get_outputs()}
  depth = architecture.num_features(models.cfg.architecture,
                                    models.cfg.depth_multiplier)
  assert outputs == ({"logits": ["batch", 1001], "feature_vector":
                      ["batch", depth]} if kind == "classification"
                     else {"feature_vector": ["batch", depth]})


def test_fixed_size_model_refuses_other_sizes(float_models):
  from onnxruntime.capi import onnxruntime_pybind11_state as ort_state
  models = float_models("v2_100_224")
  assert not models.variable["classification"]
  with pytest.raises(ort_state.InvalidArgument):
    ort_session(models.onnx["classification"]).run(
        None, {"images": _images(256, 1, seed=0)})


def broken_model(path, how):
  """The model at `path`, deliberately wrong: "same_lower" pads every Conv
  the other way round; "no_relu6" drops the ReLU6 (Clip) ops;
  "input_scale" doubles a QDQ model's input quantization step."""
  import onnx
  from onnx import numpy_helper
  model = onnx.load(path)
  for initializer in model.graph.initializer:
    if how == "input_scale" and initializer.name == "input_quant/scale":
      initializer.CopyFrom(numpy_helper.from_array(
          numpy_helper.to_array(initializer) * 2, initializer.name))
  for node in model.graph.node:
    if how == "same_lower" and node.op_type == "Conv":
      for attribute in node.attribute:
        if attribute.name == "auto_pad":
          attribute.s = b"SAME_LOWER"
    if how == "no_relu6" and node.op_type == "Clip":
      node.op_type = "Identity"
      del node.input[1:]
  return model


@pytest.mark.parametrize("how", ["same_lower", "no_relu6"])
def test_float_comparison_catches_a_wrong_model(float_models, how):
  models = float_models("v1_050_160")
  errors = _float_errors(models, "classification",
                         ort_session(broken_model(models.onnx["classification"], how)))
  assert max(errors.values()) > 100 * TOLERANCE, errors


@pytest.mark.parametrize("name", FLOAT)
def test_full_checker_opset_and_metadata(float_models, name):
  import onnx
  from onnx import helper
  models = float_models(name)
  cfg = models.cfg
  for kind in KINDS:
    model = onnx.load(models.onnx[kind])
    onnx.checker.check_model(model, full_check=True)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    # The IR version of opset 17 (onnx's own table), so runtimes that know
    # opset 17 load it.
    assert model.ir_version == helper.find_min_ir_version_for(
        [helper.make_opsetid("", 17)]) == 8
    meta = {p.key: p.value for p in model.metadata_props}
    assert [p.key for p in model.metadata_props] == sorted(meta)
    assert set(meta) == {
        "handle", "model", "architecture", "kind", "input", "input_layout",
        "input_range", "input_scaling", "input_size", "outputs", "license",
        "source_checkpoint", "quantization"} | (
            {"labels"} if kind == "classification" else set())
    assert meta["handle"] == models.modules[kind].handle
    assert meta["model"] == cfg.model_name
    assert meta["kind"] == kind
    assert meta["input_layout"] == "NHWC"
    assert meta["input_range"] == "[0, 1]"
    assert meta["input_scaling"] == "inside the model: x * 2 - 1, to [-1, 1]"
    assert meta["license"] == "Apache 2.0"
    assert meta["source_checkpoint"] == (f"{cfg.checkpoint.url} "
                                         f"({cfg.checkpoint.prefix})")
    assert meta["quantization"] == "none (float32)"
    # ONNX Runtime reads them as the model's custom metadata.
    session_meta = ort_session(models.onnx[kind]).get_modelmeta()
    assert session_meta.custom_metadata_map == meta
    assert session_meta.producer_name == "tfhub-mobilenet-export"
    files = sorted(os.listdir(os.path.dirname(models.onnx[kind])))
    if kind == "classification":
      assert meta["labels"] == "labels.txt"
      assert files == ["labels.txt", "model.onnx"]
      with open(os.path.join(os.path.dirname(models.onnx[kind]),
                             "labels.txt"), encoding="utf-8") as f:
        labels = f.read().splitlines()
      assert len(labels) == 1001 and labels[0] == "background"
    else:
      assert "labels" not in meta
      assert files == ["model.onnx"]


def test_float_model_keeps_a_custom_input_range(tmp_path):
  """A model of one's own may have seen images in another range than
  [-1, 1] (config `input_range`): the ONNX model maps [0, 1] to it as the
  SavedModel does."""
  import dataclasses
  import onnx
  import tensorflow as tf
  from export import formats
  from export.sources import synthetic
  cfg = dataclasses.replace(config.load("v1_025_128"), input_range=(0.0, 1.0))
  values = {name: value for name, value in synthetic.synthetic_values(
      cfg).items() if name in architecture.variable_layout(
          cfg.architecture, cfg.depth_multiplier, None)}
  saved_iface = dataclasses.replace(
      signatures.interface(_v5(cfg, "feature_vector")),
      variable_input_size=False)
  formats.writer(cfg, saved_iface.network, values)(saved_iface,
                                                   str(tmp_path / "tf"))
  iface = _iface("feature_vector")
  formats.writer(cfg, iface.network, values)(iface, str(tmp_path / "onnx"))
  model = str(tmp_path / "onnx" / "model.onnx")
  serve = tf.saved_model.load(str(tmp_path / "tf")).signatures[
      signatures.SERVING_SIGNATURE]
  images = _images(cfg.input_size, 2, seed=7)
  want = serve(**{signatures.SERVING_INPUT: tf.constant(images)})[
      signatures.SERVING_OUTPUT].numpy()
  (got,) = ort_session(model).run(None, {"images": images})
  assert relative_error(got, want) <= TOLERANCE
  # The comparison sees the range: the model with [-1, 1] computes another.
  default = dataclasses.replace(cfg, input_range=(-1.0, 1.0))
  formats.writer(default, iface.network, values)(iface,
                                                 str(tmp_path / "default"))
  (other,) = ort_session(str(tmp_path / "default" / "model.onnx")).run(
      None, {"images": images})
  assert relative_error(other, want) > 100 * TOLERANCE
  meta = {p.key: p.value for p in onnx.load(model).metadata_props}
  assert meta["input_scaling"] == "inside the model: x * 1 - 0, to [0, 1]"


def test_float_writer_refuses_quantized_interfaces(cfg):
  from export.formats import onnx as onnx_format
  with pytest.raises(ValueError, match="converted from their Lite file"):
    onnx_format.writer(cfg, _iface("classification",
                                   post_training_quantized=True), {})


# --- Quantized: the QDQ model against the Lite file ---------------------------


def natural_photos(size):
  """skimage.data's photos, resized to size x size: uint8 [n, size, size,
  3]."""
  from skimage import data
  from skimage import transform
  return np.stack([
      np.round(transform.resize(getattr(data, name)(), (size, size),
                                anti_aliasing=True) * 255).astype(np.uint8)
      for name in PHOTOS])


class Lite:
  """A quantized Lite file run in LiteRT, keeping the tensors the QDQ
  model's outputs are: the softmax's input (logits) and the global pool's
  output (features)."""

  def __init__(self, path):
    from ai_edge_litert.interpreter import Interpreter
    self.interpreter = Interpreter(model_path=path,
                                   experimental_preserve_all_tensors=True)
    self.interpreter.allocate_tensors()
    ops = self.interpreter._get_ops_details()  # pylint: disable=protected-access
    (softmax,) = [op for op in ops if op["op_name"] == "SOFTMAX"]
    (pool,) = [op for op in ops
               if op["op_name"] in ("MEAN", "AVERAGE_POOL_2D")]
    self.tensors = {"logits": int(softmax["inputs"][0]),
                    "feature_vector": int(pool["outputs"][0])}
    details = {t["index"]: t for t in self.interpreter.get_tensor_details()}
    self.steps = {k: details[i]["quantization"]
                  for k, i in self.tensors.items()}
    self.input = self.interpreter.get_input_details()[0]

  def images(self, pixels):
    """The float images in [0, 1] that the QDQ model quantizes to exactly
    `pixels`, the Lite input (its scale and zero point, after the [-1, 1]
    normalisation)."""
    scale, zero_point = self.input["quantization"]
    return (((pixels.astype(np.float64) - zero_point) * scale + 1) /
            2).astype(np.float32)

  def __call__(self, pixels):
    """{output: dequantized [n, ...]}, one image at a time."""
    out = {k: [] for k in self.tensors}
    for image in pixels:
      self.interpreter.set_tensor(self.input["index"], image[None])
      self.interpreter.invoke()
      for k, index in self.tensors.items():
        scale, zero_point = self.steps[k]
        out[k].append((self.interpreter.get_tensor(index).reshape(-1).astype(
            np.float64) - zero_point) * scale)
    return {k: np.stack(v) for k, v in out.items()}


def steps_apart(model, lite, pixels):
  """{output: max |ONNX - Lite| in the Lite tensor's quantization steps}
  over `pixels` as a batch, and over the first image alone."""
  session = ort_session(model)
  names = [o.name for o in session.get_outputs()]
  want = lite(pixels)
  steps = {}
  for batch in (pixels, pixels[:1]):
    got = dict(zip(names, session.run(None, {"images": lite.images(batch)})))
    for name, value in got.items():
      step = lite.steps[name][0]
      steps[name] = max(steps.get(name, 0.0), float(
          np.abs(value - want[name][:len(batch)]).max() / step))
  return steps


@pytest.fixture(scope="module")
def quantized(variant):
  """The QAT config's exported quantized Lite file and QDQ models, from one
  export (the runner writes the ONNX models with the Lite modules:
  `Interface.network`, formats.CONVERTED_FROM)."""
  from export.pipeline import exporter
  cfg = config.load(QUANT)
  lite_module = next(m for m in cfg.modules
                     if m.is_lite and m.variant == "default")
  onnx_modules = {kind: onnx_module(cfg, kind) for kind in KINDS}
  # Both are converted from the config's Lite classifier: one group.
  assert [sorted(m.handle for m in group)
          for group in exporter.network_groups(
              [lite_module, *onnx_modules.values()])] == [
                  sorted([lite_module.handle] + [
                      m.handle for m in onnx_modules.values()])]
  v = variant(QUANT, only=[lite_module.handle] + [
      m.handle for m in onnx_modules.values()])
  models = {kind: os.path.join(v.modules[m.handle], "model.onnx")
            for kind, m in onnx_modules.items()}
  return (cfg, os.path.join(v.modules[lite_module.handle], "model.tflite"),
          models)


@pytest.mark.parametrize("kind", KINDS)
def test_qdq_model_within_one_step_of_lite(quantized, kind):
  cfg, lite_path, models = quantized
  lite = Lite(lite_path)
  steps = steps_apart(models[kind], lite, natural_photos(cfg.input_size))
  print(f"{QUANT} {kind}: max |ONNX - Lite| in steps {steps}")
  assert set(steps) == ({"logits", "feature_vector"}
                        if kind == "classification" else {"feature_vector"})
  assert max(steps.values()) <= ONE_STEP, steps


# (Without its ReLU6 a QAT model is the same: the [0, 6] ranges after the
# activations clamp as much.)
@pytest.mark.parametrize("how", ["same_lower", "input_scale"])
def test_qdq_comparison_catches_a_wrong_model(quantized, how):
  cfg, lite_path, models = quantized
  steps = steps_apart(broken_model(models["classification"], how), Lite(lite_path),
                 natural_photos(cfg.input_size))
  assert max(steps.values()) > 2, steps


def _initializer_uses(model):
  """{dtype name: the op types reading initializers of that dtype}."""
  from onnx import numpy_helper
  dtypes = {i.name: str(numpy_helper.to_array(i).dtype)
            for i in model.graph.initializer}
  uses = {}
  for node in model.graph.node:
    for name in node.input:
      if name in dtypes:
        uses.setdefault(dtypes[name], set()).add(node.op_type)
  return uses


def check_uint8_qdq(model):
  """Quantized weights and zero points uint8, biases int32, read by
  DequantizeLinear/QuantizeLinear only; float constants only as scales,
  the input scaling and the ReLU6 bounds."""
  uses = _initializer_uses(model)
  assert set(uses) == {"uint8", "int32", "float32"}, uses
  assert uses["uint8"] == {"DequantizeLinear", "QuantizeLinear"}
  assert uses["int32"] == {"DequantizeLinear"}
  assert uses["float32"] <= {"DequantizeLinear", "QuantizeLinear", "Mul",
                             "Sub", "Clip"}


def _optimized_op_types(path, optimized_path):
  """{op type: count} of the graph ONNX Runtime runs for the model at
  `path` (its extended optimizations, which hold the QDQ fusions; the
  layout ones depend on the CPU)."""
  import collections
  import onnx
  import onnxruntime as ort
  options = ort.SessionOptions()
  options.graph_optimization_level = (
      ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
  options.optimized_model_filepath = optimized_path
  ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
  return dict(collections.Counter(
      n.op_type for n in onnx.load(optimized_path).graph.node))


def test_qdq_model_is_uint8_qdq_with_metadata(quantized, tmp_path):
  import onnx
  cfg, _, models = quantized
  model = onnx.load(models["classification"])
  onnx.checker.check_model(model, full_check=True)
  check_uint8_qdq(model)
  convs = [n for n in model.graph.node if n.op_type == "Conv"]
  assert len(convs) == len(architecture.layers(
      cfg.architecture, cfg.depth_multiplier, cfg.num_classes))
  for conv in convs:
    assert all(i.endswith("/dequantize") for i in conv.input), conv.input
  # ONNX Runtime runs it with integer kernels: every Conv (with its ReLU6)
  # and the pool fused with their QDQ ops; float ops are left only around
  # the input and the outputs.
  assert _optimized_op_types(models["classification"], str(
      tmp_path / "optimized.onnx")) == {
          "QLinearConv": len(convs), "QLinearAveragePool": 1,
          "Mul": 1, "Sub": 1, "Transpose": 1, "QuantizeLinear": 1,
          "DequantizeLinear": 2, "Flatten": 2}
  meta = {p.key: p.value for p in model.metadata_props}
  assert meta["quantization"] == ("uint8 QDQ, converted from the quantized "
                                  "TensorFlow Lite file")
  assert meta["input_scaling"] == "inside the model: x * 2 - 1, to [-1, 1]"
  assert meta["input_quantization"] == ("after the scaling, uint8 with scale "
                                        "0.0078125 and zero point 128")
  assert meta["input"] == "images: float32 [batch, 128, 128, 3], RGB"
  assert meta["handle"] == onnx_module(cfg, "classification").handle


def test_lite_file_of_another_network_is_refused(quantized):
  from export.formats import onnx_lite
  _, lite_path, _ = quantized
  other = config.load("v1_050_160")
  with open(lite_path, "rb") as f:
    data = f.read()
  with pytest.raises(ValueError, match="convolutions are not those of "
                     "mobilenet_v1 0.5 with 1001 classes"):
    onnx_lite.qdq_model(other, _iface("classification",
                                      post_training_quantized=True), data)

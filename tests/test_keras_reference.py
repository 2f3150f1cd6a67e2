"""Exported modules compute what Keras' own MobileNets compute.

`keras.applications.MobileNet` and `MobileNetV2` are implementations of the
published architectures written apart from TF-Slim and from this exporter.
The checkpoint's values go into them through an explicit Slim-name ->
Keras-weight mapping (below) that must use every checkpoint variable once
and set every Keras weight; then the TF1 and TF2 modules, classification and
feature vector, must give Keras' outputs. A wrong layer, depth, stride,
padding, epsilon or variable name in the exporter changes the outputs or
breaks the mapping.

Where Keras differs from the published models only in form, the test
adapts, as noted: Keras V2's classifier is a Dense layer (the published one
a 1x1 convolution over the pooled features: the same matrix), and Keras pads
stride-2 layers as ((0, 1), (0, 1)), which equals TensorFlow's SAME on the
even sizes every stride-2 layer of these input sizes sees. Both use batch
norm epsilon 1e-3.
"""

import re

import numpy as np
import pytest

from export.core import config
from tests import card_facts
from tests.conftest import Variant, images

TOLERANCE = 1e-4

# One input size per published multiplier.
V1_CONFIGS = {0.25: "v1_025_128", 0.5: "v1_050_160", 0.75: "v1_075_128",
              1.0: "v1_100_128"}
V2_CONFIGS = {0.35: "v2_035_96", 0.5: "v2_050_96", 0.75: "v2_075_96",
              1.0: "v2_100_96", 1.3: "v2_130_224", 1.4: "v2_140_224"}
CONFIGS = list(V1_CONFIGS.values()) + list(V2_CONFIGS.values())
# The module of each format and kind that is compared.
MODULES = [("classification", 3), ("feature_vector", 3),
           ("classification", 4), ("feature_vector", 4)]

_BN = r"BatchNorm/(gamma|beta|moving_mean|moving_variance)"
# (Slim checkpoint name pattern, Keras layer, Keras weight attribute), with
# regex groups carried from the name into layer and attribute.
MAPPINGS = {
    "mobilenet_v1": [
        (r"MobilenetV1/Conv2d_0/weights", "conv1", "kernel"),
        (rf"MobilenetV1/Conv2d_0/{_BN}", "conv1_bn", r"\1"),
        (r"MobilenetV1/Conv2d_(\d+)_depthwise/depthwise_weights",
         r"conv_dw_\1", "kernel"),
        (rf"MobilenetV1/Conv2d_(\d+)_depthwise/{_BN}", r"conv_dw_\1_bn",
         r"\2"),
        (r"MobilenetV1/Conv2d_(\d+)_pointwise/weights", r"conv_pw_\1",
         "kernel"),
        (rf"MobilenetV1/Conv2d_(\d+)_pointwise/{_BN}", r"conv_pw_\1_bn",
         r"\2"),
        (r"MobilenetV1/Logits/Conv2d_1c_1x1/weights", "conv_preds", "kernel"),
        (r"MobilenetV1/Logits/Conv2d_1c_1x1/biases", "conv_preds", "bias"),
    ],
    "mobilenet_v2": [
        (r"MobilenetV2/Conv/weights", "Conv1", "kernel"),
        (rf"MobilenetV2/Conv/{_BN}", "bn_Conv1", r"\1"),
        # Keras names the first inverted residual block differently.
        (r"MobilenetV2/expanded_conv/(depthwise|project)/(?:depthwise_)?"
         r"weights", r"expanded_conv_\1", "kernel"),
        (rf"MobilenetV2/expanded_conv/(depthwise|project)/{_BN}",
         r"expanded_conv_\1_BN", r"\2"),
        (r"MobilenetV2/expanded_conv_(\d+)/(expand|depthwise|project)/"
         r"(?:depthwise_)?weights", r"block_\1_\2", "kernel"),
        (rf"MobilenetV2/expanded_conv_(\d+)/(expand|depthwise|project)/{_BN}",
         r"block_\1_\2_BN", r"\3"),
        (r"MobilenetV2/Conv_1/weights", "Conv_1", "kernel"),
        (rf"MobilenetV2/Conv_1/{_BN}", "Conv_1_bn", r"\1"),
        (r"MobilenetV2/Logits/Conv2d_1c_1x1/weights", "predictions", "kernel"),
        (r"MobilenetV2/Logits/Conv2d_1c_1x1/biases", "predictions", "bias"),
    ],
}
# The last activation before global pooling: the feature vector's source.
LAST_ACTIVATION = {"mobilenet_v1": "conv_pw_13_relu",
                   "mobilenet_v2": "out_relu"}


class MappingError(AssertionError):
  pass


def keras_target(mapping, name):
  """(Keras layer name, weight attribute) of Slim variable `name`."""
  for pattern, layer, attribute in mapping:
    match = re.fullmatch(pattern, name)
    if match:
      return match.expand(layer), match.expand(attribute)
  raise MappingError(f"no Keras weight for checkpoint variable {name}")


def assign(model, mapping, values):
  """Sets every weight of `model` from Slim checkpoint `values`.

  Raises MappingError if a checkpoint variable maps to no weight or to one
  already set, if shapes differ, or if any Keras weight is left unset.
  """
  assigned = {}
  for name, value in sorted(values.items()):
    layer_name, attribute = keras_target(mapping, name)
    try:
      weight = getattr(model.get_layer(layer_name), attribute)
    except (ValueError, AttributeError) as e:
      raise MappingError(f"{name} -> {layer_name}.{attribute}: {e}") from None
    if id(weight) in assigned:
      raise MappingError(f"{name} and {assigned[id(weight)]} both set "
                         f"{layer_name}.{attribute}")
    if len(weight.shape) == 2 and value.shape[:2] == (1, 1):
      value = value.reshape(value.shape[2:])  # 1x1 conv -> Dense kernel.
    if tuple(weight.shape) != value.shape:
      raise MappingError(f"{name} {list(value.shape)} -> {layer_name}."
                         f"{attribute} {list(weight.shape)}")
    weight.assign(value)
    assigned[id(weight)] = name
  unset = [w.path for w in model.weights if id(w) not in assigned]
  if unset:
    raise MappingError(f"Keras weights no checkpoint variable sets: {unset}")


def keras_model(cfg):
  import keras
  build = {"mobilenet_v1": keras.applications.MobileNet,
           "mobilenet_v2": keras.applications.MobileNetV2}[cfg.architecture]
  return build(input_shape=(cfg.input_size, cfg.input_size, 3),
               alpha=cfg.depth_multiplier, weights=None,
               classes=cfg.num_classes,
               classifier_activation=None)


def checkpoint_values(prefix):
  import tensorflow as tf
  reader = tf.train.load_checkpoint(prefix)
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()
          if name != "global_step"}


class KerasReference:
  """Keras' MobileNet with a checkpoint's values: (features, logits)."""

  def __init__(self, cfg, values):
    import keras
    self.model = keras_model(cfg)
    assign(self.model, MAPPINGS[cfg.architecture], values)
    self.features_model = keras.Model(
        self.model.inputs,
        self.model.get_layer(LAST_ACTIVATION[cfg.architecture]).output)

  def __call__(self, batch):
    x = batch * 2.0 - 1.0  # Keras' MobileNets take the [-1, 1] of training.
    features = np.asarray(self.features_model(x)).mean(axis=(1, 2))
    return features, np.asarray(self.model(x))


def module_output(path, version, batch):
  import tensorflow as tf
  import tensorflow_hub as hub
  loaded = hub.load(path)
  if version == 4:
    return loaded(tf.constant(batch)).numpy()
  return loaded.signatures["default"](images=tf.constant(batch))[
      "default"].numpy()


def _handles(cfg):
  return [config.default_handle(cfg.publisher, cfg.architecture,
                                cfg.depth_multiplier, cfg.input_size,
                                cfg.quantized, kind, version)
          for kind, version in MODULES]


@pytest.fixture(scope="module")
def compared_modules(tmp_path_factory, cache_dir):
  """{config name: {handle: directory}}: the compared modules of the configs
  no other test exports, in one run of the runner with a worker per core
  (the seed configs come from the shared `variant` fixture)."""
  import io
  from export.pipeline import exporter, runner
  from export.sources import source
  out = str(tmp_path_factory.mktemp("keras_compared"))
  plans = [(cfg, exporter.plan(cfg, out, _handles(cfg)))
           for cfg in map(config.load, CONFIGS)
           if cfg.name not in card_facts.FLOAT_SEED_CONFIGS]
  results = runner.run(plans, source.Source(synthetic=True,
                                            cache_dir=cache_dir),
                       out, out=io.StringIO())
  assert all(r.status == runner.EXPORTED for r in results), [
      (r.handle, r.status, r.error) for r in results]
  return {cfg.name: {p.module.handle: p.dest for p in planned}
          for cfg, planned in plans}


@pytest.fixture(scope="module")
def keras_variant(variant, compared_modules, synthetic_checkpoint):
  """keras_variant(config name) -> (Variant, KerasReference)."""
  cache = {}

  def get(name):
    if name not in cache:
      if name in card_facts.FLOAT_SEED_CONFIGS:
        v = variant(name)
      else:
        prefix = synthetic_checkpoint(name)
        v = Variant(config.load(name), prefix, compared_modules[name], None)
      cache[name] = v, KerasReference(v.cfg, checkpoint_values(v.ckpt_prefix))
    return cache[name]

  return get


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_modules_equal_keras(keras_variant, name):
  v, reference = keras_variant(name)
  batch = images(v.cfg.input_size, batch=2, seed=21)
  features, logits = reference(batch)
  assert logits.shape == (2, 1001)
  for kind, version in MODULES:
    expected = logits if kind == "classification" else features
    got = module_output(v.module(kind, version), version, batch)
    np.testing.assert_allclose(
        got, expected, atol=TOLERANCE, rtol=0,
        err_msg=f"{v.handle(kind, version)} differs from Keras")


def test_mapping_uses_every_variable_once(synthetic_checkpoint):
  # Fails on the first problem; each kind of problem is one case here.
  cfg = config.load("v1_025_128")
  values = checkpoint_values(synthetic_checkpoint(cfg.name))
  reference = KerasReference(cfg, values)
  mapping = MAPPINGS["mobilenet_v1"]
  with pytest.raises(MappingError, match="no Keras weight for .*Extra"):
    assign(reference.model, mapping,
           dict(values, **{"MobilenetV1/Extra/weights": np.zeros(1)}))
  with pytest.raises(MappingError, match="Keras weights no checkpoint "
                     r"variable sets: \['conv_pw_13_bn/gamma'\]"):
    assign(reference.model, mapping,
           {n: x for n, x in values.items()
            if n != "MobilenetV1/Conv2d_13_pointwise/BatchNorm/gamma"})
  # Depthwise kernels sent to the pointwise layer of the same block.
  wrong = [(p.replace("depthwise_weights", "weights"), layer, a)
           if "depthwise_weights" in p else (p, layer, a)
           for p, layer, a in mapping]
  wrong.insert(0, (r"MobilenetV1/Conv2d_(\d+)_depthwise/depthwise_weights",
                   r"conv_pw_\1", "kernel"))
  with pytest.raises(MappingError, match="both set|->"):
    assign(reference.model, wrong, values)
  assign(reference.model, mapping, values)  # Restored.


@pytest.mark.slow
def test_wrong_mapping_changes_outputs(keras_variant):
  # Batch norm's scale and offset of one layer swapped: every variable is
  # used once and shapes agree, but the outputs no longer match, and the
  # comparison above sees it.
  v, _ = keras_variant("v1_025_128")
  values = checkpoint_values(v.ckpt_prefix)
  layer = "MobilenetV1/Conv2d_5_pointwise/BatchNorm"
  values[f"{layer}/gamma"], values[f"{layer}/beta"] = (
      values[f"{layer}/beta"], values[f"{layer}/gamma"])
  wrong = KerasReference(v.cfg, values)
  batch = images(v.cfg.input_size, batch=2, seed=21)
  got = module_output(v.module("feature_vector", 3), 3, batch)
  assert np.abs(got - wrong(batch)[0]).max() > 100 * TOLERANCE


# End points (tests/testdata/published_endpoints) and the Keras layers that
# compute the same tensors: block outputs, V2's expansion and depthwise
# outputs and residual sums, and the logits (Keras' model output).
END_POINT_LAYERS = {
    "mobilenet_v1": {
        "MobilenetV1/Conv2d_0": "conv1_relu",
        "MobilenetV1/Conv2d_1_depthwise": "conv_dw_1_relu",
        "MobilenetV1/Conv2d_6_pointwise": "conv_pw_6_relu",
        "MobilenetV1/Conv2d_12_depthwise": "conv_dw_12_relu",
        "MobilenetV1/Conv2d_13_pointwise": "conv_pw_13_relu",
        "MobilenetV1/Logits": None,
    },
    "mobilenet_v2": {
        "MobilenetV2/layer_1": "Conv1_relu",
        "MobilenetV2/layer_2/depthwise_output": "expanded_conv_depthwise_relu",
        "MobilenetV2/layer_3/expansion_output": "block_1_expand_relu",
        "MobilenetV2/layer_4/depthwise_output": "block_2_depthwise_relu",
        "MobilenetV2/layer_4/output": "block_2_add",
        "MobilenetV2/layer_7": "block_5_add",
        "MobilenetV2/layer_19": "out_relu",
        "MobilenetV2/Logits": None,
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["v1_050_160", "v2_050_96"])
def test_end_points_equal_keras_layers(keras_variant, name):
  """The TF1 module's `image_classification` end points and the TF2
  module's `return_endpoints=True` ones equal the outputs of Keras' layers
  that compute the same tensors."""
  import keras
  import tensorflow as tf
  import tensorflow_hub as hub
  v, reference = keras_variant(name)
  batch = images(v.cfg.input_size, batch=2, seed=23)
  layers = END_POINT_LAYERS[v.cfg.architecture]
  probe = keras.Model(reference.model.inputs, [
      reference.model.get_layer(layer).output if layer else
      reference.model.output for layer in layers.values()])
  want = dict(zip(layers, (np.asarray(x) for x in probe(batch * 2.0 - 1.0))))
  tf1 = hub.load(v.module("classification", 3)).signatures[
      "image_classification"](images=tf.constant(batch))
  tf2 = hub.load(v.module("classification", 4))(
      tf.constant(batch), return_endpoints=True)
  for key, expected in want.items():
    for got in (tf1[key], tf2[key]):
      np.testing.assert_allclose(got.numpy(), expected, atol=TOLERANCE,
                                 rtol=0, err_msg=key)

"""What each module kind promises its consumers (names, inputs, defaults).

Pure data about the published modules, shared by the writers, the card
generator and the tests. No TensorFlow here.
"""

import collections
import dataclasses

from export.core import architecture
from export.core import published

# Batch norm momentum of version 3+ modules, settable by the consumer; older
# versions keep the training default of the architecture.
DEFAULT_BATCH_NORM_MOMENTUM = 0.99
BATCH_NORM_MOMENTUM_INPUT = "batch_norm_momentum"
IMAGES_INPUT = "images"
OUTPUT_KEY = "default"

# The SignatureDef of TF2 SavedModels that have one (published.VERSIONS):
# images in [0, 1] as for `__call__`, inference mode. "output_0" is the name
# TensorFlow gives a signature function's one unnamed output.
SERVING_SIGNATURE = "serving_default"
SERVING_INPUT = "inputs"
SERVING_OUTPUT = "output_0"

TRAIN_TAGS = frozenset({"train"})
INFERENCE_TAGS = frozenset()

# output: "logits" or "features", the `default` output; bn_hparams: takes
# batch_norm_momentum; end_points: also outputs the network's end points.
Signature = collections.namedtuple("Signature",
                                   ["output", "bn_hparams", "end_points"])


@dataclasses.dataclass(frozen=True)
class Interface:
  """All a writer reads of a module; the rest (version, card, and but for
  ONNX models the handle) only names and describes it.

  Two modules of one config with equal interfaces have the same files, e.g.
  MobileNet V2's versions 1 and 2, whose changelog is about their cards: the
  exporter writes such modules once and copies them.
  """
  format: str
  kind: str                   # classification | feature_vector
  variable_input_size: bool   # Other input sizes than the config's.
  batch_norm_momentum_input: bool  # Fine-tuning with a settable momentum.
  # Quantized graphs only: the input is fake-quantized to [low, high].
  quantized_input_range: tuple = None
  serving_signature: bool = False  # TF2: a `serving_default` SignatureDef.
  lite_metadata: bool = False  # Lite: with model metadata and labels.
  # Lite: full-integer post-training quantization, calibrated on the
  # config's images (a float checkpoint of one's own).
  post_training_quantized: bool = False
  classes: int = architecture.NUM_CLASSES  # The config's classifier size.
  # ONNX: the module's handle, which its metadata names (so no two ONNX
  # modules are copies of each other).
  handle: str = None

  @property
  def network(self):
    """What the module's network depends on: modules of one config with
    equal `network` are written from one built network. TF2 modules differ
    only in the signatures saved with their traced `__call__`; a TF1 feature
    vector module's graphs are the classification module's without the
    classifier, so the kind does not matter there, and a TF.js model is
    converted from those graphs; a Lite file with metadata is the default
    one with metadata added. A quantized ONNX model is converted from the
    config's quantized Lite classifier (bare), so it is written with the
    Lite modules (`formats.CONVERTED_FROM`)."""
    if self.format == published.FORMAT_ONNX and (
        self.quantized or self.post_training_quantized):
      return dataclasses.replace(
          self, format=published.FORMAT_LITE, kind="classification",
          variable_input_size=False, batch_norm_momentum_input=False,
          serving_signature=False, lite_metadata=False, handle=None)
    if self.format in (published.FORMAT_HUB, published.FORMAT_TFJS):
      # A TF.js model is converted from its parent TF1 module's graph.
      return dataclasses.replace(self, format=published.FORMAT_HUB,
                                 kind="classification",
                                 serving_signature=False)
    return dataclasses.replace(self, serving_signature=False,
                               lite_metadata=False, handle=None)

  @property
  def quantized(self):
    return self.quantized_input_range is not None

  @property
  def num_classes(self):
    """Size of the classifier, or None: a feature vector module has none."""
    return self.classes if self.kind == "classification" else None


def interface(module):
  """The Interface of a config.Module."""
  return Interface(
      format=module.format, kind=module.kind,
      variable_input_size=module.variable_input_size,
      batch_norm_momentum_input=module.configurable_batch_norm_momentum,
      quantized_input_range=(quantized_input_range(module)
                             if module.quantized else None),
      serving_signature=module.published_version.serving_signature,
      lite_metadata=module.variant == "metadata",
      post_training_quantized=module.quantization == published.POST_TRAINING,
      classes=module.num_classes,
      handle=module.handle if module.is_onnx else None)


def graph_key(cfg, network_iface):
  """What the graph (or trace) of a network that takes any input size
  depends on beyond the checkpoint's values; None for a fixed size. Modules
  of configs with equal keys are written from one graph with their own
  values: MobileNet V1's four input sizes of a multiplier share the graphs
  of TF1 version 3 and of the TF2 modules. The writers keep the graphs they
  built last by it (`formats.network.RecentGraphs`), and the runner sends
  a network to the worker that built its key lately.

  Args:
    cfg: the config.
    network_iface: an `Interface.network`.
  """
  if not network_iface.variable_input_size:
    return None
  return (cfg.architecture, cfg.depth_multiplier, cfg.quantized,
          tuple(cfg.input_range), network_iface)


def tf1_signatures(iface):
  """Returns {signature name: Signature} of a TF1 Hub format module.

  A classification module also computes feature vectors; a feature vector
  module has no classifier. Version 3 adds `*_with_bn_hparams` variants that
  take the batch norm momentum as a second input. The named signatures also
  output the network's end points (`end_point_outputs`); `default` only its
  one output, as the published TF.js models (converted from `default`) show.
  """
  main = "logits" if iface.kind == "classification" else "features"
  sigs = {"default": Signature(main, False, False)}
  if iface.kind == "classification":
    sigs["image_classification"] = Signature("logits", False, True)
  sigs["image_feature_vector"] = Signature("features", False, True)
  if iface.batch_norm_momentum_input:
    for name in list(sigs):
      if name != "default":
        sigs[f"{name}_with_bn_hparams"] = sigs[name]._replace(
            bn_hparams=True)
  return sigs


def end_point_outputs(architecture_name, end_points, num_classes):
  """{output key: tensor} of a module's end points: "<network scope>/<Slim
  end point>" (e.g. MobilenetV2/layer_7/output), as the published modules'
  named signatures output them besides `default`; a module without a
  classifier has no classifier end points (tests/testdata/
  published_endpoints)."""
  scope = architecture.get(architecture_name).scope
  classifier = (architecture.LOGITS_END_POINT,
                architecture.PREDICTIONS_END_POINT)
  return {f"{scope}/{name}": tensor for name, tensor in end_points.items()
          if num_classes is not None or name not in classifier}


def tf1_tag_sets(iface):
  """Quantops modules are inference graphs only (the cards say so)."""
  return [INFERENCE_TAGS] if iface.quantized else [INFERENCE_TAGS, TRAIN_TAGS]


def quantized_input_range(module):
  """(low, high) of a quantized config.Module's input fake-quant.

  Quantops modules: [-bound, bound] (see published.VERSIONS). Lite models:
  exactly the uint8 grid of their published input quantization
  (LITE_QUANTIZED_INPUT), so that the converter gives the input that scale
  and zero point and the fake-quant graph computes on the same values;
  quantized ONNX models are converted from those Lite files.
  """
  if module.is_lite or module.is_onnx:
    return lite_quantized_input_range()
  bound = module.published_version.quantized_input_bound
  return (-bound, bound)


def lite_quantized_input_range():
  """(low, high): exactly the uint8 grid of the published Lite input
  quantization (LITE_QUANTIZED_INPUT), [-1, 127/128]."""
  scale, zero_point = published.LITE_QUANTIZED_INPUT
  return (-zero_point * scale, (255 - zero_point) * scale)

"""What was published, as tables: module versions, families, naming rules.

One place read by config validation, the writers (through
`signatures.interface`), the config generator (`core.family`) and the cards
(`cards.facts`). No TensorFlow here.
"""

import dataclasses

FORMAT_HUB = "hub"                      # TF1 Hub format, for hub.Module.
FORMAT_SAVED_MODEL_2 = "saved_model_2"  # TF2 SavedModel, for hub.KerasLayer.
FORMAT_LITE = "lite"                    # TensorFlow Lite flatbuffer.
FORMAT_TFJS = "tfjs"                    # TensorFlow.js graph model.
FORMAT_ONNX = "onnx"                    # ONNX model, for ONNX Runtime.
FORMATS = (FORMAT_HUB, FORMAT_SAVED_MODEL_2, FORMAT_LITE, FORMAT_TFJS,
           FORMAT_ONNX)
KINDS = ("classification", "feature_vector")


@dataclasses.dataclass(frozen=True)
class ModuleVersion:
  """What a module version is, whatever its family."""
  format: str
  # Fine-tuning with a settable batch norm momentum (`batch_norm_momentum`
  # input, `*_with_bn_hparams` signatures); float modules only.
  batch_norm_momentum_input: bool
  # The card's template (export/cards/templates/<layout>.md).
  card_layout: str
  # Quantops modules: the input is fake-quantized to [-bound, bound]. None:
  # the version was never published quantized. Version 3 overestimates it by
  # 0.05% to avoid a crash in some TFLite/toco versions (its changelog; TF
  # Hub GitHub issue 109).
  quantized_input_bound: float = None
  # TF2 SavedModels: a `serving_default` SignatureDef besides `__call__`
  # ("Add 'serving_default' SignatureDef", the version 5 changelog), for
  # loaders of signatures: Keras 3's TFSMLayer, TF Serving, saved_model_cli,
  # the TFLite converter.
  serving_signature: bool = False
  # The cards of a version were written when it was published. Version 5's
  # (2021) have "asset-path: internal" as the first metadata line, where
  # earlier ones have "asset-path: legacy" after the dataset line, and a
  # title without the "&zwnj;" breaks.
  card_asset_path: str = "legacy"
  card_title_breaks: bool = True


VERSIONS = {
    1: ModuleVersion(FORMAT_HUB, False, "hub_legacy",
                     quantized_input_bound=1.0),
    2: ModuleVersion(FORMAT_HUB, False, "hub_legacy"),
    3: ModuleVersion(FORMAT_HUB, True, "hub", quantized_input_bound=1.0005),
    4: ModuleVersion(FORMAT_SAVED_MODEL_2, True, "saved_model_2"),
    5: ModuleVersion(FORMAT_SAVED_MODEL_2, True, "saved_model_2",
                     serving_signature=True, card_asset_path="internal",
                     card_title_breaks=False),
}

# The TensorFlow Lite models (publisher "tensorflow"): one version, whose
# numbers restart at 1, in two variants each.
LITE_VERSIONS = {1: ModuleVersion(FORMAT_LITE, False, "lite")}
LITE_PUBLISHER = "tensorflow"
# "default": the bare model; "metadata": with TFLite model metadata and the
# label file embedded.
LITE_VARIANTS = ("default", "metadata")
# A Lite module's one file (served bare, as `<handle>.tflite`).
LITE_MODEL_FILE = "model.tflite"
# Published input and output conventions, as (scale, zero point) of the uint8
# tensors of quantized models: raw pixels, real value (q - 128) / 128; softmax
# probabilities q / 256. Float models take the same pixels normalised as
# (p - LITE_INPUT_MEAN) / LITE_INPUT_STD, in [-1, 1].
LITE_QUANTIZED_INPUT = (1 / 128, 128)
LITE_QUANTIZED_OUTPUT = (1 / 256, 0)
LITE_INPUT_MEAN = 127.5
LITE_INPUT_STD = 127.5
# The model metadata of the `metadata` variant (besides name, normalisation
# and labels): the general fields the TFLite metadata writer tutorial gives
# the MobileNet image classifiers.
LITE_METADATA = dict(
    description="Identify the most prominent object in the image from a set "
                "of {num_classes:,} categories such as trees, animals, food, "
                "vehicles, person etc.",
    version="v1",
    author="TensorFlow",
    license="Apache License. Version 2.0 "
            "http://www.apache.org/licenses/LICENSE-2.0.")


# The TF.js graph models (publisher google): one of each float TF1 module,
# converted from its `default` signature by the TF.js converter. A config
# lists one by its parent's kind and version; its own version is 1, in the
# variant "default".
TFJS_VERSION = 1
TFJS_VARIANT = "default"
TFJS_CARD_LAYOUT = "tfjs"

# The ONNX models (never published by Google: this toolchain's own). A
# float one is a deployment of the TF2 SavedModel whose outputs it has
# (version ONNX_FLOAT_PARENT: logits or features, `serving_default`'s input
# sizes), in the variant "default"; a quantized one (uint8 QDQ) is converted
# from the quantized Lite file, so it deploys that Lite model
# (`tensorflow/<lite name>/1`), in a variant named by its kind. A config
# lists one by its parent's version (5, or the Lite version 1); its own
# version is 1. Handles:
#   google/onnx-model/imagenet/mobilenet_v1_050_160/classification/5/default/1
#   tensorflow/onnx-model/mobilenet_v1_0.25_128_quantized/1/feature_vector/1
ONNX_FLOAT_PARENT = 5
ONNX_VERSION = 1
ONNX_VARIANT = "default"
ONNX_CARD_LAYOUT = "onnx"
# A model's files: the model, and a classifier's labels (one line a class).
ONNX_MODEL_FILE = "model.onnx"
ONNX_LABELS_FILE = "labels.txt"
# The oldest opset the models may have (the most runtimes load it); it has
# every op they use.
ONNX_OPSET = 17

# Models of one's own (configs with `family: custom`): each format is
# exported with the behaviour of its latest published version (TF1 Hub
# format as version 3: settable batch norm momentum, variable input size for
# V1; TF2 as version 5: `serving_default`), and their handles number the two
# hub formats in the order tfhub.dev published them (TF1 1, TF2 2); Lite
# files and TF.js models are deployments of version 1, like the family's.
CUSTOM_FAMILY = "custom"
CUSTOM_SEMANTICS = {FORMAT_HUB: 3, FORMAT_SAVED_MODEL_2: 5, FORMAT_LITE: 1,
                    FORMAT_TFJS: 3, FORMAT_ONNX: ONNX_FLOAT_PARENT}
CUSTOM_HANDLE_VERSIONS = {FORMAT_HUB: 1, FORMAT_SAVED_MODEL_2: 2}
CUSTOM_CARD_LAYOUTS = {FORMAT_HUB: "custom_hub",
                       FORMAT_SAVED_MODEL_2: "custom_saved_model_2",
                       FORMAT_LITE: "custom_lite", FORMAT_TFJS: "custom_tfjs",
                       FORMAT_ONNX: "custom_onnx"}
# The licenses a model of one's own may have: Kaggle's name (what
# `model_upload` takes) -> tfhub.dev's `license` tag id (tags/license.yaml
# of tensorflow/tfhub.dev; tests/testdata/tfhub_validator).
# Kaggle's names are known for these two only (kagglehub's README and tests
# use "Apache 2.0"; "MIT" is in Kaggle's license list for models).
LICENSE_TAGS = {"Apache 2.0": "apache-2.0", "MIT": "mit"}
# tfhub.dev's `dataset` tag ids (tags/dataset.yaml) a card of one's own
# may name; "other" unless the config says.
OTHER_DATASET_TAG = "other"
DATASET_TAGS = ("other", "multiple", "imagenet", "imagenet-ilsvrc-2012-cls",
                "imagenet-21k", "cifar-10", "cifar-100", "coco-2017",
                "plant-village")
# Full-integer post-training quantization of a Lite file from a float
# checkpoint, calibrated on the config's images.
POST_TRAINING = "post_training"


# Deployments of a model (Lite files, TF.js models) are served at handles
# with a "<format>-model/" part, while their cards sit in the docs tree
# below the model's path with the format name before the version:
# tensorflow/lite-model/<name>/1/default/1 -> tensorflow/models/<name>/1/
# default/lite/1.md.
DEPLOYMENT_HANDLE_PARTS = {FORMAT_LITE: "lite-model", FORMAT_TFJS: "tfjs-model",
                           FORMAT_ONNX: "onnx-model"}


# Placeholder cards of Lite models that name the interactive model of their
# Coral (Edge TPU) deployment, by (architecture, depth multiplier, input
# size, quantized): tensorflow/tfhub.dev at d67862af.
LITE_INTERACTIVE_MODEL_NAMES = {
    ("mobilenet_v1", 1.0, 224, True): "coral_mobilenet_quantized_v1",
    ("mobilenet_v2", 1.0, 224, True): "coral_mobilenet_quantized_v2",
}


def module_version(fmt, version):
  """The ModuleVersion of `version` in format `fmt`. Lite versions are
  numbered on their own; a TF.js model is its parent TF1 module's version,
  converted; an ONNX model has its parent's outputs and no fine-tuning
  inputs or signatures (`version`: its parent's, ONNX_FLOAT_PARENT or a
  Lite version)."""
  if fmt == FORMAT_LITE:
    return LITE_VERSIONS[version]
  if fmt == FORMAT_ONNX:
    if version != ONNX_FLOAT_PARENT and version not in LITE_VERSIONS:
      raise KeyError(version)
    return ModuleVersion(FORMAT_ONNX, False, ONNX_CARD_LAYOUT)
  if fmt == FORMAT_TFJS:
    if VERSIONS[version].format != FORMAT_HUB:
      raise KeyError(version)
    return dataclasses.replace(VERSIONS[version], format=FORMAT_TFJS,
                               card_layout=TFJS_CARD_LAYOUT)
  return VERSIONS[version]


def tfjs_versions(family, quantized):
  """The parent versions of a family's TF.js models: its float TF1 ones."""
  if quantized:
    return ()
  return tuple(v for v in family.float_versions
               if VERSIONS[v].format == FORMAT_HUB)


def onnx_versions(family, quantized, lite):
  """The parent versions of a config's ONNX models: the float TF2 version
  whose outputs they have; for a quantization-aware config, its quantized
  Lite file's versions (`lite`: the config has Lite files)."""
  if quantized:
    return tuple(sorted(LITE_VERSIONS)) if lite else ()
  return ((ONNX_FLOAT_PARENT,) if ONNX_FLOAT_PARENT in family.float_versions
          else ())


@dataclasses.dataclass(frozen=True)
class ColabBadge:
  """A badge under a card's metadata opening the Colab notebook of the
  module's kind (COLAB_NOTEBOOKS), on the cards of `kinds` x `versions`."""
  kinds: tuple
  versions: tuple
  label: str = "Open Colab notebook"

  def shown_on(self, kind, version):
    return kind in self.kinds and version in self.versions


@dataclasses.dataclass(frozen=True)
class Family:
  """One architecture's published variants, and how its cards name it."""
  title: str                 # As the cards and config comments name it.
  depth_multipliers: tuple
  input_sizes: tuple
  float_versions: tuple      # Of VERSIONS.
  quant_versions: tuple      # Of VERSIONS; empty if never quantized.
  # The model zoo the checkpoint archives are downloaded from (cards name a
  # checkpoint by its archive's path below it), and their folder in it.
  model_zoo: str
  archive_folder: str
  # Multipliers trained at the largest input size only.
  full_size_only: tuple = ()
  # First float version that accepts other input sizes than the trained one
  # (None: every version fixes it, as the MobileNet V2 cards say).
  variable_size_since: int = None
  # Versions whose cards kept the first release's metadata block and did
  # not link the label file yet.
  early_card_versions: tuple = ()
  # The Colab notebook badges (ColabBadge) its cards show.
  colab_badges: tuple = ()
  # (depth multiplier, input size) of the variants published as TensorFlow
  # Lite models (LITE_VERSIONS), float and, with `lite_quantized`, quantized.
  lite_variants: tuple = ()
  lite_quantized: bool = False

  @property
  def archive_root(self):
    return self.model_zoo + self.archive_folder


FAMILIES = {
    "mobilenet_v1": Family(
        title="MobileNet V1",
        depth_multipliers=(0.25, 0.5, 0.75, 1.0),
        input_sizes=(128, 160, 192, 224),
        float_versions=(1, 3, 4, 5),
        quant_versions=(1, 3),
        model_zoo="https://storage.googleapis.com/download.tensorflow.org/"
                  "models/",
        archive_folder="mobilenet_v1_2018_02_22/",
        variable_size_since=3,
        lite_variants=tuple((dm, size) for dm in (0.25, 0.5, 0.75, 1.0)
                            for size in (128, 160, 192, 224)),
        lite_quantized=True),
    "mobilenet_v2": Family(
        title="MobileNet V2",
        depth_multipliers=(0.35, 0.5, 0.75, 1.0, 1.3, 1.4),
        input_sizes=(96, 128, 160, 192, 224),
        float_versions=(1, 2, 3, 4, 5),
        quant_versions=(),
        model_zoo="https://storage.googleapis.com/mobilenet_v2/checkpoints/",
        archive_folder="",
        full_size_only=(1.3, 1.4),
        early_card_versions=(1,),
        colab_badges=(
            ColabBadge(KINDS, (5,)),
            # Every V2 feature_vector/4 card, spelt so (tensorflow/tfhub.dev
            # at d67862af; tests/testdata/published_cards/README.md).
            ColabBadge(("feature_vector",), (4,), "Open Colab notebok")),
        lite_variants=((1.0, 224),),
        lite_quantized=True),
}

# The notebooks the cards' Colab badges open, by module kind.
COLAB_NOTEBOOKS = {
    kind: "https://colab.research.google.com/github/tensorflow/hub/blob/"
          f"master/examples/colab/{notebook}.ipynb"
    for kind, notebook in (("classification", "image_classification"),
                           ("feature_vector", "tf2_image_retraining"))}

DEFAULT_PUBLISHER = "google"


def multiplier_code(depth_multiplier):
  """The multiplier in hundredths, 3 digits (0.5 -> "050"), as in names."""
  return f"{round(depth_multiplier * 100):03d}"


def model_name(architecture, depth_multiplier, input_size):
  """E.g. mobilenet_v1_050_160."""
  return f"{architecture}_{multiplier_code(depth_multiplier)}_{input_size}"


def lite_multiplier(depth_multiplier):
  """The Lite models spell the multiplier with two decimals, but 1.0."""
  return "1.0" if depth_multiplier == 1.0 else f"{depth_multiplier:.2f}"


def lite_model_name(architecture, depth_multiplier, input_size, quantized):
  """E.g. mobilenet_v1_0.50_160_quantized."""
  multiplier = lite_multiplier(depth_multiplier)
  return (f"{architecture}_{multiplier}_{input_size}" +
          ("_quantized" if quantized else ""))


def default_lite_handle(architecture, depth_multiplier, input_size,
                        quantized, version, variant):
  """E.g. tensorflow/lite-model/mobilenet_v1_0.50_160/1/default/1: the Lite
  file of model `tensorflow/<name>/<version>` in `variant`."""
  name = lite_model_name(architecture, depth_multiplier, input_size,
                         quantized)
  return (f"{LITE_PUBLISHER}/{DEPLOYMENT_HANDLE_PARTS[FORMAT_LITE]}/{name}/"
          f"{version}/{variant}/1")


def default_tfjs_handle(publisher, architecture, depth_multiplier,
                        input_size, kind, version):
  """E.g. google/tfjs-model/imagenet/mobilenet_v1_050_160/classification/3/
  default/1: the TF.js model of TF1 module google/imagenet/.../3."""
  parent = default_handle(publisher, architecture, depth_multiplier,
                          input_size, False, kind, version)
  return deployment_handle(parent, FORMAT_TFJS, TFJS_VARIANT, TFJS_VERSION)


def default_onnx_handle(publisher, architecture, depth_multiplier,
                        input_size, quantized, kind, version):
  """E.g. google/onnx-model/imagenet/mobilenet_v1_050_160/classification/5/
  default/1 (float: of TF2 module google/imagenet/.../5), tensorflow/
  onnx-model/mobilenet_v1_0.25_128_quantized/1/classification/1 (quantized:
  of Lite model tensorflow/mobilenet_v1_0.25_128_quantized/1)."""
  if quantized:
    name = lite_model_name(architecture, depth_multiplier, input_size, True)
    return deployment_handle(f"{LITE_PUBLISHER}/{name}/{version}",
                             FORMAT_ONNX, kind, ONNX_VERSION)
  parent = default_handle(publisher, architecture, depth_multiplier,
                          input_size, False, kind, version)
  return deployment_handle(parent, FORMAT_ONNX, ONNX_VARIANT, ONNX_VERSION)


def deployment_handle(parent, fmt, variant, version):
  """The handle of deployment `<variant>/<version>` in format `fmt` of model
  `parent`: `<publisher>/<fmt>-model/<rest of parent>/<variant>/<version>`."""
  publisher, rest = parent.split("/", 1)
  return (f"{publisher}/{DEPLOYMENT_HANDLE_PARTS[fmt]}/{rest}/{variant}/"
          f"{version}")


def deployment_parent(handle):
  """(parent handle, format) of a deployment's handle; (handle, None) for
  any other."""
  publisher, rest = handle.split("/", 1)
  for fmt, part in DEPLOYMENT_HANDLE_PARTS.items():
    if rest.startswith(part + "/"):
      return f"{publisher}/{rest[len(part) + 1:].rsplit('/', 2)[0]}", fmt
  return handle, None


def docs_path(handle):
  """The card of `handle` in the docs tree: `<publisher>/models/<rest>.md`,
  and for a deployment `<publisher>/models/<parent's rest>/<variant>/<format
  name>/<version>.md`."""
  parent, fmt = deployment_parent(handle)
  publisher, rest = parent.split("/", 1)
  if fmt is None:
    return f"{publisher}/models/{rest}.md"
  variant, version = handle.rsplit("/", 2)[1:]
  return f"{publisher}/models/{rest}/{variant}/{fmt}/{version}.md"


def default_handle(publisher, architecture, depth_multiplier, input_size,
                   quantized, kind, version):
  """E.g. google/imagenet/mobilenet_v1_050_160/quantops/feature_vector/3."""
  quant = "quantops/" if quantized else ""
  name = model_name(architecture, depth_multiplier, input_size)
  return f"{publisher}/imagenet/{name}/{quant}{kind}/{version}"

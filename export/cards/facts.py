"""The facts a model card states, computed from a config and the architecture.

Everything a template shows comes from here: config values (handle, depth
multiplier, input size, checkpoint), numbers computed from the architecture
tables (feature width, class count, whether V2 rounds depths), the module's
promised behaviour (signatures, input size, batch norm momentum), links to
sibling modules, and which versions the changelog lists. Templates hold the
text; nothing here is prose.
"""

import posixpath
import urllib.parse

from export.core import architecture as arch_lib
from export.core import config as config_lib
from export.core import kaggle_names
from export.core import published
from export.core import signatures


PLACEHOLDER_LAYOUT = "lite_placeholder"


def default_layout(module):
  """The template of a module's card, unless its config names another."""
  return module.card.layout or module.published_version.card_layout


def docs_path(module):
  """Where `module`'s card is in the docs repository (published.docs_path):
  `<publisher>/models/<rest of handle>.md`, and for a Lite file or TF.js
  model below its parent's path, e.g. `.../1/default/lite/1.md`."""
  return published.docs_path(module.handle)


def placeholder_docs_path(module):
  """The docs path of a Lite file's parent's ("Placeholder") card."""
  return published.docs_path(module.parent)


def placeholder_facts(cfg, module):
  """The facts of the Placeholder card of Lite file `module`'s parent."""
  return dict(
      layout=PLACEHOLDER_LAYOUT,
      parent=module.parent,
      network=published.FAMILIES[cfg.architecture].title,
      v1=cfg.architecture == "mobilenet_v1",
      lite_multiplier=published.lite_multiplier(cfg.depth_multiplier),
      size=cfg.input_size,
      quantized=cfg.quantized,
      interactive_model_name=published.LITE_INTERACTIVE_MODEL_NAMES.get(
          (cfg.architecture, cfg.depth_multiplier, cfg.input_size,
           cfg.quantized), ""))


def tfjs_facts(module):
  """The facts of a TF.js model's card."""
  publisher, rest = module.handle.split("/", 1)
  return dict(
      layout=default_layout(module),
      # The handle without its "tfjs-model/" part.
      title=f"{publisher}/{rest.split('/', 1)[1]}",
      parent=module.parent,
      parent_url=config_lib.HUB_URL + module.parent,
      url=module.url)


def lite_facts(cfg, module):
  """The facts of a Lite file's card (the same for float and quantized)."""
  return dict(
      layout=default_layout(module),
      parent=module.parent,
      variant=module.variant,
      lite_version=module.handle.rsplit("/", 1)[1],
      metadata=module.variant == "metadata",
      size=cfg.input_size,
      num_classes=cfg.num_classes,
      input_mean=f"{published.LITE_INPUT_MEAN:g}",
      input_std=f"{published.LITE_INPUT_STD:g}")


def onnx_facts(cfg, module):
  """The facts of an ONNX model's card (the family's and one's own): its
  source, input (and for a quantized one, how pixels map to its uint8
  input grid), outputs, and where it is."""
  quantized = cfg.quantized or bool(module.quantization)
  publisher, rest = module.handle.split("/", 1)
  lite_handle = (published.deployment_handle(
      module.parent, published.FORMAT_LITE, published.LITE_VARIANTS[0],
      published.ONNX_VERSION) if quantized else "")
  # A quantized Lite file's input (quantization-aware or post-training) is
  # the published uint8 grid of [-1, 1]: pixel p (0..255) fed as p / 256 is
  # exactly its input p.
  grid = quantized
  scale, zero_point = published.LITE_QUANTIZED_INPUT
  low, high = (-1.0, 1.0) if quantized else cfg.input_range
  return dict(
      layout=default_layout(module),
      handle=module.handle,
      # The handle without its "onnx-model/" part.
      onnx_title=f"{publisher}/{rest.split('/', 1)[1]}",
      parent=module.parent,
      local_path=f"{LOCAL_OUTPUT_DIR}/{module.handle}",
      asset_path=module.handle + ".tar.gz",
      quantized=quantized,
      post_training=bool(module.quantization),
      lite_handle=lite_handle,
      grid=grid,
      grid_scale=f"1/{round(1 / scale)}",
      grid_zero_point=zero_point,
      # Dividing pixels by this gives the model's [0, 1] input.
      pixel_divisor=round(1 / scale) * 2 if grid else 255,
      input_low=f"{low:g}",
      input_high=f"{high:g}",
      classification=module.kind == "classification",
      size=cfg.input_size,
      variable_size=module.variable_input_size,
      num_classes=cfg.num_classes,
      num_features=arch_lib.num_features(cfg.architecture,
                                         cfg.depth_multiplier),
      opset=published.ONNX_OPSET,
      model_file=published.ONNX_MODEL_FILE,
      labels_file=published.ONNX_LABELS_FILE,
      network=published.FAMILIES[cfg.architecture].title,
      depth_multiplier=f"{cfg.depth_multiplier:g}",
      kaggle_onnx_handle=kaggle_names.onnx_handle(cfg, module),
      license=(cfg.model.license if cfg.custom
               else config_lib.DEFAULT_LICENSE))


def family_onnx_facts(cfg, module):
  """The facts of the card of one of the family's ONNX models."""
  facts = onnx_facts(cfg, module)
  family = published.FAMILIES[cfg.architecture]
  facts.update(
      parent_url=config_lib.HUB_URL + module.parent,
      lite_url=(config_lib.HUB_URL + facts["lite_handle"]
                if facts["lite_handle"] else ""),
      checkpoint=checkpoint_path(cfg, family),
      # Loaded from the export; `export.kaggle` publishes it (under the
      # owner it is given) at `kaggle_onnx_handle`.
      kaggle_handle="")
  return facts


def slim_name(cfg):
  """The TF-Slim model name as the cards give it (`mobilenet_v1_050`,
  `mobilenet_v1` at 1.0, `mobilenet_v1_v1_025` quantized, `mobilenet_v2`)."""
  if cfg.architecture == "mobilenet_v2":
    return "mobilenet_v2"
  name = "mobilenet_v1_v1" if cfg.quantized else "mobilenet_v1"
  if cfg.depth_multiplier != 1.0:
    name += "_" + published.multiplier_code(cfg.depth_multiplier)
  return name


def checkpoint_path(cfg, family):
  """E.g. `mobilenet_v1_2018_02_22/mobilenet_v1_0.5_160/mobilenet_v1_0.5_160.ckpt`:
  the archive's path below the model zoo (no extension), then the prefix."""
  url = cfg.checkpoint.url
  path = (url[len(family.model_zoo):] if url.startswith(
      family.model_zoo) else posixpath.basename(
          urllib.parse.urlparse(url).path))
  for extension in (".tar.gz", ".tgz"):
    if path.endswith(extension):
      path = path[:-len(extension)]
  return f"{path}/{cfg.checkpoint.prefix}"


def sibling(cfg, module):
  """The module of the other kind in the same version, which the card
  recommends instead; its handle is derived even if no config has it."""
  other = ("feature_vector" if module.kind == "classification"
           else "classification")
  base, kind, version = module.handle.rsplit("/", 2)
  handle = f"{base}/{other}/{version}"
  for m in cfg.modules:
    if m.handle == handle:
      return m.handle, m.url
  return handle, config_lib.HUB_URL + handle


def published_versions(cfg):
  family = published.FAMILIES[cfg.architecture]
  return sorted(family.quant_versions if cfg.quantized
                else family.float_versions)


def module_facts(cfg, module):
  """Returns {name: value} for the templates of `module`'s card."""
  if cfg.custom:
    return custom_facts(cfg, module)
  if module.is_lite:
    return lite_facts(cfg, module)
  if module.is_tfjs:
    return tfjs_facts(module)
  if module.is_onnx:
    return family_onnx_facts(cfg, module)
  family = published.FAMILIES[cfg.architecture]
  classification = module.kind == "classification"
  tf2 = module.format == config_lib.FORMAT_SAVED_MODEL_2
  layout = default_layout(module)
  sibling_handle, sibling_url = sibling(cfg, module)
  if layout == "test_bucket":  # A docs tree of its own: link the card file.
    sibling_url = f"../{sibling_handle.rsplit('/', 2)[1]}/{module.version}.md"
  versions = [v for v in published_versions(cfg) if v <= module.version]
  version = module.published_version
  title = module.handle.rsplit("/", 1)[0]
  if version.card_title_breaks:
    # Zero-width non-joiners let the title wrap after any "/" but the last.
    title = title.replace("/", "/&zwnj;")
  badge = next((b for b in family.colab_badges
                if b.shown_on(module.kind, module.version)), None)
  colab = module.card.colab or (
      published.COLAB_NOTEBOOKS[module.kind] if badge else "")
  colab_label = module.card.colab_label or (
      badge.label if badge else published.ColabBadge.label)
  output = "logits" if classification else "features"
  num_classes = cfg.num_classes
  facts = dict(
      layout=layout,
      handle=module.handle,
      handle_title=f"{title}/{module.version}",
      url=module.url,
      network=family.title,
      v1=cfg.architecture == "mobilenet_v1",
      v2=cfg.architecture == "mobilenet_v2",
      classification=classification,
      module_type=("image-classification" if classification
                   else "image-feature-vector"),
      signature=("image_classification" if classification
                 else "image_feature_vector"),
      output=output,
      # Continuation lines of `<output> = module(...)` align under "(".
      output_indent=" " * len(f"{output} = module("),
      quantized=cfg.quantized,
      fine_tunable="false" if cfg.quantized else "true",
      bn_hparams=module.configurable_batch_norm_momentum,
      batch_norm_momentum=signatures.DEFAULT_BATCH_NORM_MOMENTUM,
      depth_multiplier=repr(cfg.depth_multiplier),
      depth_multiplier_title=f"{cfg.depth_multiplier:.2f}",
      size=cfg.input_size,
      slim_name=slim_name(cfg),
      rounds_depths=arch_lib.rounds_depths(cfg.architecture,
                                           cfg.depth_multiplier),
      num_classes=num_classes,
      num_imagenet_classes=num_classes - 1,  # Class 0 is "background".
      num_features=arch_lib.num_features(cfg.architecture,
                                         cfg.depth_multiplier),
      variable_size=module.variable_input_size,
      sibling_handle=sibling_handle,
      sibling_url=sibling_url,
      checkpoint=checkpoint_path(cfg, family),
      asset_path_legacy=(module.card.asset_path and
                         version.card_asset_path == "legacy"),
      asset_path_internal=(module.card.asset_path and
                           version.card_asset_path == "internal"),
      colab=colab,
      colab_label=colab_label,
      early_version=module.version in family.early_card_versions,
      # The published V1 float TF1 cards read "on-device  image" (sic).
      double_space=(cfg.architecture == "mobilenet_v1" and not cfg.quantized
                    and not tf2),
      changelog=len(versions) > 1,
      # In TF2 cards the module is "this model" in a "TF Hub model".
      noun="model" if tf2 else "module",
      hub_name="TF Hub model" if tf2 else "TF-Hub module",
      tf2=tf2,
  )
  for v in (2, 3, 4, 5):
    facts[f"changelog_v{v}"] = v in versions
  facts["v3_adds_variable_size"] = (family.variable_size_since == 3
                                    and not cfg.quantized)
  return facts


# --- Models of one's own ------------------------------------------------------

# The validator's `task` and `network-architecture` ids (tags/task.yaml,
# tags/network_architecture.yaml of tensorflow/tfhub.dev).
TASKS = {"classification": "image-classification",
         "feature_vector": "image-feature-vector"}
NETWORK_ARCHITECTURES = {"mobilenet_v1": "mobilenet-v1",
                         "mobilenet_v2": "mobilenet-v2"}


# Where `python -m export.one` writes modules unless told otherwise (its
# --output_dir default): the cards of a model not on Kaggle load it there.
LOCAL_OUTPUT_DIR = "out"


def custom_parent(module):
  """The handle of the placeholder a Lite file of one's own deploys."""
  return published.deployment_parent(module.handle)[0]


def custom_location(cfg, module):
  """(Kaggle handle, local path) a card of one's own loads `module` from:
  the handle where `export.kaggle` publishes it if the config names a
  Kaggle owner or model (else ""), and the path of the export (no
  tfhub.dev: it takes no new models)."""
  kaggle_handle = (kaggle_names.custom_handle(cfg, module)
                   if cfg.model.on_kaggle else "")
  return kaggle_handle, f"{LOCAL_OUTPUT_DIR}/{module.handle}"


def custom_link(cfg, module, handle):
  """Where a card of one's own links module `handle` of its config: its
  Kaggle page, or its card in the docs tree, relative to `module`'s."""
  if cfg.model.on_kaggle:
    return kaggle_names.WEB_URL + kaggle_names.custom_handle(
        cfg, cfg.module(handle))
  return posixpath.relpath(published.docs_path(handle),
                           posixpath.dirname(docs_path(module)))


def custom_facts(cfg, module):
  """The facts of a card of a model of one's own (any format)."""
  info, family = cfg.model, published.FAMILIES[cfg.architecture]
  classification = module.kind == "classification"
  quantized_lite = module.is_lite and (cfg.quantized or bool(
      module.quantization))
  sibling_handle = sibling(cfg, module)[0] if not (
      module.is_lite or module.is_tfjs or module.is_onnx) else None
  sibling_listed = any(m.handle == sibling_handle for m in cfg.modules)
  suffix = ".tflite" if module.is_lite else ".tar.gz"
  kaggle_handle, local_path = custom_location(cfg, module)
  parent_listed = any(m.handle == module.parent for m in cfg.modules)
  facts = dict(
      layout=default_layout(module),
      handle=module.handle,
      kaggle_handle=kaggle_handle,
      local_path=local_path,
      # What hub.Module, hub.KerasLayer and tf.loadGraphModel take.
      url=(kaggle_names.WEB_URL + kaggle_handle if kaggle_handle
           else local_path),
      lite_file=(kaggle_names.lite_file(module) if module.is_lite and
                 kaggle_handle else published.LITE_MODEL_FILE),
      parent=module.parent,
      parent_url=(custom_link(cfg, module, module.parent) if parent_listed
                  else ""),
      asset_path=module.handle + suffix,
      title=info.title, dataset=info.dataset, dataset_tag=info.dataset_tag,
      description=info.description, authors=info.authors,
      license=info.license, license_tag=published.LICENSE_TAGS[info.license],
      citation=info.citation or "",
      network=family.title,
      network_tag=NETWORK_ARCHITECTURES[cfg.architecture],
      v1=cfg.architecture == "mobilenet_v1",
      classification=classification,
      task=TASKS[module.kind],
      signature=("image_classification" if classification
                 else "image_feature_vector"),
      format=module.format,
      tf2=module.format == config_lib.FORMAT_SAVED_MODEL_2,
      quantized=cfg.quantized,
      quantized_lite=quantized_lite,
      post_training=bool(module.quantization),
      metadata=module.variant == "metadata",
      fine_tunable="false" if cfg.quantized else "true",
      bn_hparams=module.configurable_batch_norm_momentum,
      batch_norm_momentum=signatures.DEFAULT_BATCH_NORM_MOMENTUM,
      depth_multiplier=f"{cfg.depth_multiplier:g}",
      size=cfg.input_size,
      variable_size=module.variable_input_size,
      rounds_depths=arch_lib.rounds_depths(cfg.architecture,
                                           cfg.depth_multiplier),
      num_classes=cfg.num_classes,
      num_features=arch_lib.num_features(cfg.architecture,
                                         cfg.depth_multiplier),
      labels_file=posixpath.basename(cfg.labels),
      sibling_handle=sibling_handle if sibling_listed else "",
      sibling_url=(custom_link(cfg, module, sibling_handle) if sibling_listed
                   else ""),
      input_mean=f"{published.LITE_INPUT_MEAN:g}",
      input_std=f"{published.LITE_INPUT_STD:g}",
      version=module.handle.rsplit("/", 1)[1],
      # A deployment's title: its parent, variant and version (the handle
      # without its "<format>-model/" part).
      deployment_title=(f"{module.parent}/{module.variant}/"
                        f"{module.handle.rsplit('/', 1)[1]}"),
      # How inputs are scaled: [0, 1] -> what the network saw in training.
      input_low=f"{cfg.input_range[0]:g}",
      input_high=f"{cfg.input_range[1]:g}")
  if module.is_onnx:
    facts.update(onnx_facts(cfg, module))
  return facts


def custom_placeholder_facts(cfg, module):
  """The facts of the placeholder card of a Lite file of one's own."""
  facts = custom_facts(cfg, module)
  facts.update(layout=CUSTOM_PLACEHOLDER_LAYOUT, handle=module.parent,
               task=TASKS["classification"])
  return facts


CUSTOM_PLACEHOLDER_LAYOUT = "custom_placeholder"
CUSTOM_PUBLISHER_LAYOUT = "custom_publisher"

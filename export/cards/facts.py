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


def custom_parent(module):
  """The handle of the placeholder a Lite file of one's own deploys."""
  return published.deployment_parent(module.handle)[0]


def custom_facts(cfg, module):
  """The facts of a card of a model of one's own (any format)."""
  info, family = cfg.model, published.FAMILIES[cfg.architecture]
  classification = module.kind == "classification"
  quantized_lite = module.is_lite and (cfg.quantized or bool(
      module.quantization))
  sibling_handle, sibling_url = sibling(cfg, module) if not (
      module.is_lite or module.is_tfjs) else (None, None)
  sibling_listed = any(m.handle == sibling_handle for m in cfg.modules)
  suffix = ".tflite" if module.is_lite else ".tar.gz"
  return dict(
      layout=default_layout(module),
      handle=module.handle,
      url=module.url,
      parent=module.parent,
      parent_url=config_lib.HUB_URL + module.parent,
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
      sibling_url=sibling_url,
      input_mean=f"{published.LITE_INPUT_MEAN:g}",
      input_std=f"{published.LITE_INPUT_STD:g}",
      version=module.handle.rsplit("/", 1)[1],
      # A deployment's title: its parent, variant and version (the handle
      # without its "<format>-model/" part).
      deployment_title=(f"{module.parent}/{module.variant}/"
                        f"{module.handle.rsplit('/', 1)[1]}"))


def custom_placeholder_facts(cfg, module):
  """The facts of the placeholder card of a Lite file of one's own."""
  facts = custom_facts(cfg, module)
  facts.update(layout=CUSTOM_PLACEHOLDER_LAYOUT, handle=module.parent,
               task=TASKS["classification"])
  return facts


CUSTOM_PLACEHOLDER_LAYOUT = "custom_placeholder"
CUSTOM_PUBLISHER_LAYOUT = "custom_publisher"

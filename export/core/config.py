"""Variant configs: one YAML file per model variant, validated on load.

A config is pure data. It names the architecture, depth multiplier, input size
and quantization of one published variant, the checkpoint archive it was
exported from, and every module version published for it. Everything that
follows from the architecture (feature width, class count, variable shapes)
is computed elsewhere and never written here.

Example (`configs/v1_050_160.yaml`)::

    architecture: mobilenet_v1
    depth_multiplier: 0.5
    input_size: 160
    quantized: false
    checkpoint:
      url: https://.../mobilenet_v1_2018_02_22/mobilenet_v1_0.5_160.tgz
      prefix: mobilenet_v1_0.5_160.ckpt
    modules:
      - {kind: classification, version: 1, format: hub}
      - {kind: feature_vector, version: 4, format: saved_model_2}

Any problem raises `ConfigError`, whose message is one line naming the file,
the key, the bad value and what is allowed. This module does not import
TensorFlow.
"""

import dataclasses
import difflib
import os
import re
import urllib.parse

import yaml

from export.core import architecture
from export.core import published

# export/core/config.py -> <repo>/configs.
CONFIGS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "configs")

# The published tables, as config keys see them.
FORMAT_HUB = published.FORMAT_HUB
FORMAT_SAVED_MODEL_2 = published.FORMAT_SAVED_MODEL_2
FORMAT_LITE = published.FORMAT_LITE
FORMAT_TFJS = published.FORMAT_TFJS
FORMAT_ONNX = published.FORMAT_ONNX
FORMATS = published.FORMATS
KINDS = published.KINDS
FAMILIES = published.FAMILIES
DEFAULT_PUBLISHER = published.DEFAULT_PUBLISHER


class ConfigError(ValueError):
  """A config file is malformed; the message is one line for the user."""

  def __init__(self, path, key, value, allowed, message=None):
    self.path, self.key, self.value, self.allowed = path, key, value, allowed
    shown = value if isinstance(value, str) and key == "<yaml>" else repr(value)
    super().__init__(
        message or f"{path}: {key}: {shown} is not allowed; {allowed}")


def _no_such_config(path):
  """The error for a config file that does not exist, listing those that
  do where it was looked for."""
  directory = os.path.dirname(path) or "."
  try:
    names = sorted(n[:-len(".yaml")] for n in os.listdir(directory)
                   if n.endswith(".yaml"))
  except OSError:
    names = []
  there = (f"the configs in {directory} are {', '.join(names)}" if names
           else f"{directory} holds no configs (*.yaml)")
  close = difflib.get_close_matches(
      os.path.basename(path).removesuffix(".yaml"), names, n=1)
  hint = f" (did you mean {close[0]}?)" if close else ""
  return ConfigError(path, "<file>", "missing", there,
                     message=f"no such config: {path}{hint}; {there}")


@dataclasses.dataclass(frozen=True)
class Checkpoint:
  url: str          # The published archive (.tgz); None: `path`.
  prefix: str       # Checkpoint prefix of the member files inside it.
  sha256: str = None  # Pinned archive hash, if known.
  # A model of one's own: a local prefix, directory or archive.
  path: str = None


@dataclasses.dataclass(frozen=True)
class ModelInfo:
  """What a model of one's own says about itself (its cards, Kaggle)."""
  publisher: str       # Handles: <publisher>/<name>/...
  name: str
  title: str
  dataset: str         # What it was trained on, as the cards name it.
  description: str
  license: str
  authors: str
  citation: str = None
  kaggle_owner: str = None
  kaggle_model: str = None
  # The config names kaggle_owner or kaggle_model: the model is published on
  # Kaggle, and its cards load it from there (else from the export).
  on_kaggle: bool = False
  card_template: str = None  # A template file of one's own, or None.
  dataset_tag: str = None    # Its tfhub.dev `dataset` id (cards' metadata).


# Card layouts with a template in export/cards/templates. By default a card's
# layout follows from its module's format and version; a config names one
# only for a module whose card was written otherwise (seed 000's test module).
CARD_LAYOUTS = tuple(dict.fromkeys(
    [v.card_layout for v in published.VERSIONS.values()] +
    [v.card_layout for v in published.LITE_VERSIONS.values()] +
    [published.TFJS_CARD_LAYOUT, published.ONNX_CARD_LAYOUT, "test_bucket"] +
    list(published.CUSTOM_CARD_LAYOUTS.values())))
HUB_URL = "https://tfhub.dev/"


@dataclasses.dataclass(frozen=True)
class CardOptions:
  """What a module's published card shows that no rule predicts."""
  layout: str = None        # One of CARD_LAYOUTS; None: by format and version.
  asset_path: bool = True   # The `<!-- asset-path: ... -->` line.
  colab: str = None         # URL of a Colab notebook badge under the metadata.
  colab_label: str = None   # The badge's text; None: the family's.


@dataclasses.dataclass(frozen=True)
class Module:
  """One published module of a variant (or a TensorFlow Lite file, or a
  TF.js model of it)."""
  kind: str        # classification | feature_vector
  # Of published.VERSIONS (LITE_VERSIONS for Lite files; for a TF.js model,
  # the version of the TF1 module it was converted from).
  version: int
  format: str      # One of FORMATS.
  handle: str      # e.g. google/imagenet/mobilenet_v1_050_160/feature_vector/3
  quantized: bool = False  # A quantops module (inference graph only).
  # Accepts other input sizes than the trained one (V1 float versions 3 and
  # 4); otherwise the size is fixed.
  variable_input_size: bool = False
  # Where the module is served; None: https://tfhub.dev/<handle>.
  served_url: str = None
  card: CardOptions = CardOptions()
  # Lite files: one of published.LITE_VARIANTS ("default", "metadata");
  # TF.js models: published.TFJS_VARIANT.
  variant: str = None
  # The classifier's size (its config's), whatever the module's kind.
  num_classes: int = architecture.NUM_CLASSES
  # The published version whose behaviour the module has, if not `version`
  # (models of one's own: published.CUSTOM_SEMANTICS).
  semantics: int = None
  # Lite files of float checkpoints: published.POST_TRAINING, or None.
  quantization: str = None

  @property
  def url(self):
    return self.served_url or HUB_URL + self.handle

  @property
  def is_tf1_hub(self):
    return self.format == FORMAT_HUB

  @property
  def is_lite(self):
    return self.format == FORMAT_LITE

  @property
  def is_tfjs(self):
    return self.format == FORMAT_TFJS

  @property
  def is_onnx(self):
    return self.format == FORMAT_ONNX

  @property
  def parent(self):
    """The handle of the model a Lite file or TF.js model deploys (e.g.
    tensorflow/mobilenet_v1_0.50_160/1); the module's own handle otherwise."""
    return published.deployment_parent(self.handle)[0]

  @property
  def published_version(self):
    """The published.ModuleVersion of this module's format and version (or
    of the version whose behaviour it has)."""
    return published.module_version(self.format,
                                    self.semantics or self.version)

  @property
  def configurable_batch_norm_momentum(self):
    """Fine-tuning with a settable momentum (see published.VERSIONS);
    quantops modules are not fine-tunable."""
    return (self.published_version.batch_norm_momentum_input
            and not self.quantized)


@dataclasses.dataclass(frozen=True)
class VariantConfig:
  path: str
  name: str                # File stem, e.g. v1_050_160.
  architecture: str
  depth_multiplier: float
  input_size: int
  quantized: bool
  checkpoint: Checkpoint
  modules: tuple           # Of Module.
  publisher: str = DEFAULT_PUBLISHER
  num_classes: int = architecture.NUM_CLASSES
  # The label file, one line per class; None: ImageNet's, with background.
  labels: str = None
  # A model of one's own (`family: custom`): what it says about itself, and
  # the images calibrating its post-training quantized Lite files.
  model: ModelInfo = None
  calibration: str = None
  # (low, high): what the network saw of images in [0, 1] in training, which
  # the modules (taking [0, 1]) and Lite files map their input to. Slim's and
  # TF Hub's [-1, 1] unless a model of one's own says otherwise (a Keras
  # model's own input scaling: export.new_config writes it).
  input_range: tuple = (-1.0, 1.0)

  @property
  def custom(self):
    return self.model is not None

  @property
  def model_name(self):
    """E.g. mobilenet_v1_050_160 (multiplier in hundredths, 3 digits); a
    model of one's own: its name."""
    if self.model:
      return self.model.name
    return model_name(self.architecture, self.depth_multiplier,
                      self.input_size)

  def module(self, handle):
    for m in self.modules:
      if m.handle == handle:
        return m
    raise KeyError(handle)


model_name = published.model_name
default_handle = published.default_handle


# --- Validation ---------------------------------------------------------------

_TOP_KEYS = {"architecture": True, "depth_multiplier": True,
             "input_size": True, "quantized": True, "checkpoint": True,
             "modules": True, "publisher": False}  # key: required
_CHECKPOINT_KEYS = {"url": True, "prefix": True, "sha256": False}
_MODULE_KEYS = {"kind": True, "version": True, "format": True,
                "handle": False, "url": False, "card": False,
                "variant": False}
_CARD_KEYS = {"layout": False, "asset_path": False, "colab": False,
              "colab_label": False}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_HANDLE_PART = re.compile(r"^[a-z0-9_]+$")
_LITE_HANDLE_PART = re.compile(r"^[a-z0-9_.]+$")  # mobilenet_v1_0.50_160
_PREFIX = re.compile(r"^[A-Za-z0-9_.\-]+$")


class _Reader:
  """Typed access to one mapping of a config, with errors that name the key."""

  def __init__(self, path, mapping, keys, where=""):
    self.path, self.mapping, self.keys, self.where = path, mapping, keys, where
    for key in mapping:
      if key not in keys:
        raise ConfigError(path, self.key(key), key,
                          f"allowed keys: {', '.join(sorted(keys))}")
    for key, required in keys.items():
      if required and key not in mapping:
        raise ConfigError(path, self.key(key), None,
                          "this key is required")

  def key(self, key):
    return f"{self.where}{key}"

  def get(self, key, types, default=None):
    value = self.mapping.get(key)
    if value is None and not self.keys[key]:  # Optional and absent (or null).
      return default
    # bool is an int in Python; never accept one where a number is meant.
    if isinstance(value, bool) and bool not in types or not isinstance(
        value, types):
      names = " or ".join(t.__name__ for t in types)
      raise ConfigError(self.path, self.key(key), value, f"expected {names}")
    return value

  def matching(self, key, pattern, expected, default=None):
    """A string value that `pattern` matches ("expected <expected>")."""
    value = self.get(key, (str,), default)
    if not pattern.match(value):
      raise ConfigError(self.path, self.key(key), value, f"expected {expected}")
    return value

  def one_of(self, key, types, allowed, default=None):
    value = self.get(key, types, default)
    if value not in allowed:
      shown = ", ".join(str(a) for a in allowed)
      raise ConfigError(self.path, self.key(key), value,
                        f"allowed values: {shown}")
    return value


def _validate_url(path, key, url, archive=True):
  parsed = urllib.parse.urlparse(url)
  if parsed.scheme not in ("http", "https") or not parsed.netloc:
    raise ConfigError(path, key, url, "expected an http(s) URL")
  if archive and not parsed.path.endswith((".tgz", ".tar.gz")):
    raise ConfigError(path, key, url,
                      "expected an http(s) URL of a .tgz or .tar.gz archive")


def _card_options(path, entry, where):
  if entry is None:
    return CardOptions()
  if not isinstance(entry, dict):
    raise ConfigError(path, f"{where}card", entry,
                      "expected a mapping with layout, asset_path, colab, "
                      "colab_label")
  card = _Reader(path, entry, _CARD_KEYS, f"{where}card.")
  layout = card.get("layout", (str,))
  if layout is not None and layout not in CARD_LAYOUTS:
    raise ConfigError(path, f"{where}card.layout", layout,
                      f"allowed values: {', '.join(CARD_LAYOUTS)}")
  colab = card.get("colab", (str,))
  if colab is not None:
    _validate_url(path, f"{where}card.colab", colab, archive=False)
  return CardOptions(
      layout=layout, asset_path=card.get("asset_path", (bool,), True),
      colab=colab, colab_label=card.get("colab_label", (str,)))


def parse(path, data):
  """Validates the parsed YAML `data` of file `path`; returns VariantConfig."""
  if not isinstance(data, dict):
    kind = "an empty file" if data is None else type(data).__name__
    raise ConfigError(path, "<top level>", kind,
                      "expected a mapping of config keys")
  if "family" in data:
    return _parse_custom(path, data)
  top = _Reader(path, data, _TOP_KEYS)
  architecture = top.one_of("architecture", (str,), tuple(FAMILIES))
  family = FAMILIES[architecture]
  depth_multiplier = float(top.one_of("depth_multiplier", (int, float),
                                      family.depth_multipliers))
  input_size = top.one_of("input_size", (int,), family.input_sizes)
  quantized = top.get("quantized", (bool,))
  lite = (depth_multiplier, input_size) in family.lite_variants and (
      family.lite_quantized or not quantized)
  if quantized and not family.quant_versions and not lite:
    raise ConfigError(path, "quantized", True,
                      f"{architecture} was never published quantized")
  publisher = top.get("publisher", (str,), DEFAULT_PUBLISHER)
  if not _HANDLE_PART.match(publisher):
    raise ConfigError(path, "publisher", publisher,
                      "expected lowercase letters, digits and _")

  ckpt = _Reader(path, top.get("checkpoint", (dict,)), _CHECKPOINT_KEYS,
                 "checkpoint.")
  url = ckpt.get("url", (str,))
  _validate_url(path, "checkpoint.url", url)
  prefix = ckpt.get("prefix", (str,))
  if not _PREFIX.match(prefix):
    raise ConfigError(path, "checkpoint.prefix", prefix,
                      "expected a file name prefix inside the archive")
  sha256 = ckpt.get("sha256", (str,))
  if sha256 is not None and not _SHA256.match(sha256):
    raise ConfigError(path, "checkpoint.sha256", sha256,
                      "expected 64 lowercase hex digits")

  versions = family.quant_versions if quantized else family.float_versions
  entries = top.get("modules", (list,))
  if not entries:
    raise ConfigError(path, "modules", entries, "list at least one module")
  modules, seen = [], set()
  for i, entry in enumerate(entries):
    where = f"modules[{i}]."
    if not isinstance(entry, dict):
      raise ConfigError(path, f"modules[{i}]", entry,
                        "expected a mapping with kind, version, format")
    m = _Reader(path, entry, _MODULE_KEYS, where)
    fmt = m.one_of("format", (str,), FORMATS)
    if fmt == FORMAT_LITE:
      kind, version, variant, handle = _lite_module(
          path, m, where, architecture, depth_multiplier, input_size,
          quantized, lite)
    elif fmt == FORMAT_TFJS:
      kind, version, variant, handle = _tfjs_module(
          path, m, where, publisher, architecture, depth_multiplier,
          input_size, quantized)
    elif fmt == FORMAT_ONNX:
      kind, version, variant, handle = _onnx_module(
          path, m, where, publisher, architecture, depth_multiplier,
          input_size, quantized, lite)
    else:
      kind = m.one_of("kind", (str,), KINDS)
      version = m.one_of("version", (int,), versions)
      if published.VERSIONS[version].format != fmt:
        raise ConfigError(
            path, f"{where}format", fmt, f"version {version} was published "
            f"only as {published.VERSIONS[version].format!r}")
      if m.get("variant", (str,)) is not None:
        raise ConfigError(path, f"{where}variant", entry["variant"],
                          f"only {FORMAT_LITE} modules have variants")
      variant = None
      handle = m.get("handle", (str,)) or default_handle(
          publisher, architecture, depth_multiplier, input_size, quantized,
          kind, version)
      if not handle.endswith(f"/{kind}/{version}") or not all(
          _HANDLE_PART.match(p) for p in handle.split("/")):
        raise ConfigError(path, f"{where}handle", handle,
                          f"expected a handle of lowercase path parts "
                          f"ending in {kind}/{version}")
    if handle in seen:
      raise ConfigError(path, f"{where}handle", handle,
                        "each module handle may appear only once")
    seen.add(handle)
    variable = (not quantized and fmt != FORMAT_LITE
                and family.variable_size_since is not None
                and version >= family.variable_size_since)
    served_url = m.get("url", (str,))
    if served_url is not None:
      _validate_url(path, f"{where}url", served_url, archive=False)
    modules.append(Module(kind, version, fmt, handle, quantized, variable,
                          served_url=served_url,
                          card=_card_options(path, entry.get("card"), where),
                          variant=variant))

  return VariantConfig(
      path=path, name=os.path.splitext(os.path.basename(path))[0],
      architecture=architecture, depth_multiplier=depth_multiplier,
      input_size=input_size, quantized=quantized,
      checkpoint=Checkpoint(url=url, prefix=prefix, sha256=sha256),
      modules=tuple(modules), publisher=publisher)


def _lite_module(path, m, where, architecture, depth_multiplier, input_size,
                 quantized, published_as_lite):
  """(kind, version, variant, handle) of a Lite file's config entry."""
  if not published_as_lite:
    family = FAMILIES[architecture]
    shown = ", ".join(f"{dm:g}/{size}" for dm, size in family.lite_variants)
    floats = "" if family.lite_quantized else " (float only)"
    raise ConfigError(path, f"{where}format", FORMAT_LITE,
                      f"{architecture} was published as TensorFlow Lite "
                      f"models at multiplier/size {shown}{floats}")
  kind = m.one_of("kind", (str,), ("classification",))
  version = m.one_of("version", (int,), tuple(published.LITE_VERSIONS))
  variant = m.one_of("variant", (str,), published.LITE_VARIANTS)
  handle = m.get("handle", (str,)) or published.default_lite_handle(
      architecture, depth_multiplier, input_size, quantized, version, variant)
  _check_deployment_handle(path, where, handle, FORMAT_LITE,
                           f"{version}/{variant}/1", _LITE_HANDLE_PART)
  return kind, version, variant, handle


def _check_deployment_handle(path, where, handle, fmt, ending, part):
  """A Lite file's or TF.js model's handle: `<publisher>/<fmt>-model/...`
  ending in `ending`, its other parts matching `part`."""
  marker = published.DEPLOYMENT_HANDLE_PARTS[fmt]
  parts = handle.split("/")
  if (published.deployment_parent(handle)[1] != fmt
      or not handle.endswith("/" + ending)
      or not all(part.match(p) for p in parts[:1] + parts[2:])):
    raise ConfigError(path, f"{where}handle", handle,
                      f"expected a handle of lowercase path parts "
                      f"<publisher>/{marker}/.../{ending}")


def _tfjs_module(path, m, where, publisher, architecture, depth_multiplier,
                 input_size, quantized):
  """(kind, version, variant, handle) of a TF.js model's config entry."""
  family = FAMILIES[architecture]
  versions = published.tfjs_versions(family, quantized)
  if not versions:
    raise ConfigError(path, f"{where}format", FORMAT_TFJS,
                      "TF.js models were published of float TF1 modules "
                      "only, not of quantops ones")
  kind = m.one_of("kind", (str,), KINDS)
  version = m.one_of("version", (int,), versions)
  variant = m.one_of("variant", (str,), (published.TFJS_VARIANT,),
                     published.TFJS_VARIANT)
  handle = m.get("handle", (str,)) or published.default_tfjs_handle(
      publisher, architecture, depth_multiplier, input_size, kind, version)
  _check_deployment_handle(
      path, where, handle, FORMAT_TFJS,
      f"{kind}/{version}/{variant}/{published.TFJS_VERSION}", _HANDLE_PART)
  return kind, version, variant, handle


def _onnx_module(path, m, where, publisher, architecture, depth_multiplier,
                 input_size, quantized, has_lite):
  """(kind, version, variant, handle) of an ONNX model's config entry:
  float, of the TF2 version whose outputs it has; quantized (uint8 QDQ), of
  the config's quantized Lite file, in a variant named by its kind."""
  versions = published.onnx_versions(FAMILIES[architecture], quantized,
                                     has_lite)
  if not versions:
    raise ConfigError(path, f"{where}format", FORMAT_ONNX,
                      "the ONNX models of a quantization-aware config are "
                      "converted from its quantized Lite file, and "
                      f"{architecture} {depth_multiplier:g}/{input_size} "
                      "was not published as one")
  kind = m.one_of("kind", (str,), KINDS)
  version = m.one_of("version", (int,), versions)
  default_variant = kind if quantized else published.ONNX_VARIANT
  variant = m.one_of("variant", (str,), (default_variant,), default_variant)
  handle = m.get("handle", (str,)) or published.default_onnx_handle(
      publisher, architecture, depth_multiplier, input_size, quantized, kind,
      version)
  ending = (f"{version}/{variant}/{published.ONNX_VERSION}" if quantized
            else f"{kind}/{version}/{variant}/{published.ONNX_VERSION}")
  _check_deployment_handle(path, where, handle, FORMAT_ONNX, ending,
                           _LITE_HANDLE_PART if quantized else _HANDLE_PART)
  return kind, version, variant, handle


# --- Models of one's own (`family: custom`) ------------------------------------

_CUSTOM_TOP_KEYS = {"family": True, "architecture": True,
                    "depth_multiplier": True, "input_size": True,
                    "quantized": False, "num_classes": True, "labels": True,
                    "model": True, "checkpoint": True, "calibration": False,
                    "modules": True, "input_range": False}
_MODEL_KEYS = {"publisher": True, "name": True, "title": True,
               "dataset": True, "dataset_tag": False,
               "description": True, "license": False,
               "authors": True, "citation": False, "kaggle_owner": False,
               "kaggle_model": False, "card_template": False}
_CUSTOM_CHECKPOINT_KEYS = {"path": False, "url": False, "sha256": False,
                           "prefix": False}
_CUSTOM_MODULE_KEYS = {"kind": True, "format": True, "variant": False,
                       "quantization": False}
_PUBLISHER_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_KAGGLE_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # The kaggle CLI's.
_KAGGLE_OWNER = re.compile(r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
DEFAULT_LICENSE = "Apache 2.0"
MIN_INPUT_SIZE, INPUT_SIZE_STEP = 32, 32  # The networks' total stride.


def _relative(path, value):
  """A path in a config, relative to the config's directory."""
  return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)),
                                       os.path.expanduser(value)))


def _label_count(path, labels):
  try:
    with open(labels, encoding="utf-8") as f:
      return len(f.read().splitlines())
  except OSError as e:
    raise ConfigError(path, "labels", labels,
                      f"expected a readable label file ({e.strerror})"
                      ) from None


def calibration_images(directory):
  """The images below `directory`, sorted by path."""
  return sorted(os.path.join(d, n) for d, _, names in os.walk(directory)
                for n in names if n.lower().endswith(IMAGE_EXTENSIONS))


def _model_info(path, top):
  m = _Reader(path, top.get("model", (dict,)), _MODEL_KEYS, "model.")
  publisher = m.matching("publisher", _PUBLISHER_ID,
                         "lowercase letters and digits, single - between "
                         "them (a tfhub.dev publisher id)")
  name = m.matching("name", _HANDLE_PART,
                    "lowercase letters, digits and _ (a handle part)")
  # Kaggle's license names; tfhub.dev's dataset ids.
  license_name = m.one_of("license", (str,), tuple(published.LICENSE_TAGS),
                          DEFAULT_LICENSE)
  dataset_tag = m.one_of("dataset_tag", (str,), published.DATASET_TAGS,
                         published.OTHER_DATASET_TAG)
  owner = m.matching("kaggle_owner", _KAGGLE_OWNER,
                     "a Kaggle owner slug: lowercase letters and digits, "
                     "single - or _ between them", publisher)
  slug = m.matching("kaggle_model", _KAGGLE_SLUG,
                    "a Kaggle model slug: lowercase letters and digits, "
                    "single - between them", name.replace("_", "-"))
  template = m.get("card_template", (str,))
  if template is not None:
    template = _relative(path, template)
    if not template.endswith(".md") or not os.path.isfile(template):
      raise ConfigError(path, "model.card_template", template,
                        "expected an existing .md template file")
  return ModelInfo(
      publisher=publisher, name=name, title=m.get("title", (str,)),
      dataset=m.get("dataset", (str,)),
      description=m.get("description", (str,)).strip(),
      license=license_name, dataset_tag=dataset_tag,
      authors=m.get("authors", (str,)), citation=m.get("citation", (str,)),
      kaggle_owner=owner, kaggle_model=slug,
      on_kaggle=any(m.mapping.get(k) is not None
                    for k in ("kaggle_owner", "kaggle_model")),
      card_template=template)


def _custom_checkpoint(path, top):
  c = _Reader(path, top.get("checkpoint", (dict,)), _CUSTOM_CHECKPOINT_KEYS,
              "checkpoint.")
  local, url = c.get("path", (str,)), c.get("url", (str,))
  if (local is None) == (url is None):
    raise ConfigError(path, "checkpoint", top.mapping["checkpoint"],
                      "expected exactly one of path (a checkpoint prefix, "
                      "a directory holding one, a .tgz, or a Keras .keras "
                      "or .h5 model file) and url")
  sha256, prefix = c.get("sha256", (str,)), c.get("prefix", (str,))
  if url is not None:
    _validate_url(path, "checkpoint.url", url)
    if sha256 is None or not _SHA256.match(sha256):
      raise ConfigError(path, "checkpoint.sha256", sha256,
                        "a checkpoint URL needs its pinned sha256 (64 "
                        "lowercase hex digits)")
  if prefix is not None and not _PREFIX.match(prefix):
    raise ConfigError(path, "checkpoint.prefix", prefix,
                      "expected a file name prefix inside the archive")
  return Checkpoint(url=url, prefix=prefix, sha256=sha256,
                    path=_relative(path, local) if local else None)


def _custom_module(path, entry, where, info, quantized, size_policy):
  """A Module of a model of one's own, from its config entry."""
  if not isinstance(entry, dict):
    raise ConfigError(path, where.rstrip("."), entry,
                      "expected a mapping with kind and format")
  m = _Reader(path, entry, _CUSTOM_MODULE_KEYS, where)
  fmt = m.one_of("format", (str,), FORMATS)
  kind = m.one_of("kind", (str,),
                  ("classification",) if fmt == FORMAT_LITE else KINDS)
  if fmt == FORMAT_SAVED_MODEL_2 and quantized:
    raise ConfigError(path, f"{where}format", fmt,
                      "a quantization-aware checkpoint exports hub (quantops) "
                      "and lite modules")
  if fmt == FORMAT_TFJS and quantized:
    raise ConfigError(path, f"{where}format", fmt,
                      "TF.js models are converted from float TF1 modules")
  variant = (m.one_of("variant", (str,), published.LITE_VARIANTS, "default")
             if fmt == FORMAT_LITE else None)
  if fmt != FORMAT_LITE and "variant" in entry:
    raise ConfigError(path, f"{where}variant", entry["variant"],
                      f"only {FORMAT_LITE} modules have variants")
  quantization = m.get("quantization", (str,))
  if quantization is not None and (fmt not in (FORMAT_LITE, FORMAT_ONNX)
                                   or quantized
                                   or quantization != published.POST_TRAINING):
    raise ConfigError(path, f"{where}quantization", quantization,
                      f"only lite and onnx modules of a float checkpoint "
                      f"take quantization: {published.POST_TRAINING}")
  base = f"{info.publisher}/{info.name}"
  if fmt == FORMAT_LITE:
    name = info.name + ("_quantized" if quantized or quantization else "")
    version = published.CUSTOM_SEMANTICS[fmt]
    handle = f"{info.publisher}/lite-model/{name}/{version}/{variant}/1"
  elif fmt == FORMAT_TFJS:
    version = published.CUSTOM_HANDLE_VERSIONS[FORMAT_HUB]
    handle = published.deployment_handle(f"{base}/{kind}/{version}", fmt,
                                         published.TFJS_VARIANT,
                                         published.TFJS_VERSION)
    variant = published.TFJS_VARIANT
  elif fmt == FORMAT_ONNX and (quantized or quantization):
    # Converted from the quantized Lite file: a deployment of its model.
    version = published.CUSTOM_SEMANTICS[FORMAT_LITE]
    variant = kind
    handle = published.deployment_handle(
        f"{info.publisher}/{info.name}_quantized/{version}", fmt, variant,
        published.ONNX_VERSION)
  elif fmt == FORMAT_ONNX:  # A deployment of the TF2 SavedModel.
    version = published.CUSTOM_HANDLE_VERSIONS[FORMAT_SAVED_MODEL_2]
    variant = published.ONNX_VARIANT
    handle = published.deployment_handle(f"{base}/{kind}/{version}", fmt,
                                         variant, published.ONNX_VERSION)
  else:
    version = published.CUSTOM_HANDLE_VERSIONS[fmt]
    handle = f"{base}/{kind}/{version}"
  layout = published.CUSTOM_CARD_LAYOUTS[fmt]
  return Module(
      kind, version, fmt, handle, quantized=quantized,
      variable_input_size=(fmt in (FORMAT_HUB, FORMAT_TFJS) and size_policy
                           and not quantized),
      card=CardOptions(layout=layout), variant=variant,
      semantics=published.CUSTOM_SEMANTICS[fmt], quantization=quantization)


def _parse_custom(path, data):
  """A config of a model of one's own (`family: custom`)."""
  top = _Reader(path, data, _CUSTOM_TOP_KEYS)
  top.one_of("family", (str,), (published.CUSTOM_FAMILY,))
  architecture_name = top.one_of("architecture", (str,), tuple(FAMILIES))
  depth_multiplier = float(top.get("depth_multiplier", (int, float)))
  if not 0 < depth_multiplier <= 4 or round(depth_multiplier * 100) != (
      depth_multiplier * 100):
    raise ConfigError(path, "depth_multiplier", data["depth_multiplier"],
                      "expected a multiple of 0.01 above 0 and at most 4 "
                      "(the Slim builders take any positive multiplier; "
                      "handles name it in hundredths)")
  input_size = top.get("input_size", (int,))
  if input_size < MIN_INPUT_SIZE or input_size % INPUT_SIZE_STEP:
    raise ConfigError(path, "input_size", input_size,
                      f"expected a multiple of {INPUT_SIZE_STEP} from "
                      f"{MIN_INPUT_SIZE} up (the networks' total stride)")
  quantized = top.get("quantized", (bool,), False)
  num_classes = top.get("num_classes", (int,))
  if num_classes < 2:
    raise ConfigError(path, "num_classes", num_classes,
                      "expected at least 2 classes")
  labels = _relative(path, top.get("labels", (str,)))
  count = _label_count(path, labels)
  if count != num_classes:
    raise ConfigError(path, "labels", labels,
                      f"has {count} lines; expected one per class, "
                      f"num_classes = {num_classes} (with the background "
                      "class where the checkpoint has one)")
  info = _model_info(path, top)
  checkpoint = _custom_checkpoint(path, top)
  family = FAMILIES[architecture_name]
  entries = top.get("modules", (list,))
  if not entries:
    raise ConfigError(path, "modules", entries, "list at least one module")
  modules, seen = [], set()
  for i, entry in enumerate(entries):
    module = _custom_module(path, entry, f"modules[{i}].", info, quantized,
                            family.variable_size_since is not None)
    if module.handle in seen:
      raise ConfigError(path, f"modules[{i}]", entry,
                        f"{module.handle} is listed twice")
    seen.add(module.handle)
    modules.append(dataclasses.replace(module, num_classes=num_classes))
  calibration = top.get("calibration", (str,))
  if any(m.quantization for m in modules):
    if calibration is None:
      raise ConfigError(path, "calibration", None,
                        "post-training quantized lite and onnx modules need "
                        "a directory of representative images")
    calibration = _relative(path, calibration)
    if not calibration_images(calibration):
      raise ConfigError(path, "calibration", calibration,
                        "expected a directory holding images "
                        f"({', '.join(IMAGE_EXTENSIONS)})")
  elif calibration is not None:
    calibration = _relative(path, calibration)
  input_range = _input_range(path, top, quantized)
  return VariantConfig(
      path=path, name=os.path.splitext(os.path.basename(path))[0],
      architecture=architecture_name, depth_multiplier=depth_multiplier,
      input_size=input_size, quantized=quantized, checkpoint=checkpoint,
      modules=tuple(modules), publisher=info.publisher,
      num_classes=num_classes, labels=labels, model=info,
      calibration=calibration, input_range=input_range)


DEFAULT_INPUT_RANGE = VariantConfig.input_range


def _input_range(path, top, quantized):
  """(low, high) of `input_range`: two numbers, low below high."""
  value = top.get("input_range", (list,), list(DEFAULT_INPUT_RANGE))
  if len(value) != 2 or not all(
      isinstance(v, (int, float)) and not isinstance(v, bool)
      for v in value) or not value[0] < value[1]:
    raise ConfigError(path, "input_range", value,
                      "expected [low, high], two numbers with low < high: "
                      "what the network saw of images in [0, 1] (e.g. "
                      "[-1, 1], or [0, 1] after Keras' Rescaling(1/255))")
  value = (float(value[0]), float(value[1]))
  if quantized and value != DEFAULT_INPUT_RANGE:
    raise ConfigError(path, "input_range", list(value),
                      "a quantization-aware checkpoint takes [-1, 1] (its "
                      "input is fake-quantized there)")
  return value


def resolve_path(name_or_path):
  """A bare file name (`v1_050_160.yaml` or `v1_050_160`) means configs/."""
  if os.path.sep in name_or_path or os.path.exists(name_or_path):
    return name_or_path
  if not name_or_path.endswith((".yaml", ".yml")):
    name_or_path += ".yaml"
  return os.path.join(CONFIGS_DIR, name_or_path)


def load(name_or_path):
  """Reads and validates one config; raises ConfigError on any problem."""
  path = resolve_path(name_or_path)
  try:
    with open(path, encoding="utf-8") as f:
      text = f.read()
  except FileNotFoundError:
    raise _no_such_config(path) from None
  except OSError as e:
    raise ConfigError(path, "<file>", e.strerror,
                      "expected a readable YAML file") from None
  try:
    # libyaml's parser, where PyYAML has it: a tenth of the pure Python
    # one's time (most of a no-op `export_all`); the same constructor.
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader",
                                          yaml.SafeLoader))
  except yaml.YAMLError as e:
    mark = getattr(e, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    raise ConfigError(path, "<yaml>", f"{where}{problem}",
                      "expected valid YAML") from None
  return parse(path, data)


def config_names(configs_dir=CONFIGS_DIR):
  """The *.yaml file names in `configs_dir`, sorted.

  Raises:
    ConfigError: naming the directory, if it is missing, not a directory,
      unreadable, or holds no config.
  """
  expected = ("expected a configs directory: variant configs, one *.yaml "
              f"file each (as in {CONFIGS_DIR})")
  try:
    names = sorted(n for n in os.listdir(configs_dir) if n.endswith(".yaml"))
  except FileNotFoundError:
    problem = "no such directory"
  except NotADirectoryError:
    problem = "not a directory"
  except OSError as e:
    problem = f"cannot read it ({e.strerror})"
  else:
    if names:
      return names
    problem = "holds no config (*.yaml)"
  raise ConfigError(configs_dir, "<directory>", problem, expected,
                    message=f"{configs_dir}: {problem}; {expected}")


def load_all(configs_dir=CONFIGS_DIR):
  """Loads every *.yaml in `configs_dir`, sorted by file name; a missing
  or empty directory raises ConfigError (`config_names`)."""
  return [load(os.path.join(configs_dir, n))
          for n in config_names(configs_dir)]

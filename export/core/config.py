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
  url: str          # The published archive (.tgz).
  prefix: str       # Checkpoint prefix of the member files inside it.
  sha256: str = None  # Pinned archive hash, if known.


# Card layouts with a template in export/cards/templates. By default a card's
# layout follows from its module's format and version; a config names one
# only for a module whose card was written otherwise (seed 000's test module).
CARD_LAYOUTS = tuple(dict.fromkeys(
    [v.card_layout for v in published.VERSIONS.values()] +
    [v.card_layout for v in published.LITE_VERSIONS.values()] +
    [published.TFJS_CARD_LAYOUT, "test_bucket"]))
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
  def parent(self):
    """The handle of the model a Lite file or TF.js model deploys (e.g.
    tensorflow/mobilenet_v1_0.50_160/1); the module's own handle otherwise."""
    return published.deployment_parent(self.handle)[0]

  @property
  def published_version(self):
    """The published.ModuleVersion of this module's format and version."""
    return published.module_version(self.format, self.version)

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

  @property
  def model_name(self):
    """E.g. mobilenet_v1_050_160 (multiplier in hundredths, 3 digits)."""
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
    data = yaml.safe_load(text)
  except yaml.YAMLError as e:
    mark = getattr(e, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    raise ConfigError(path, "<yaml>", f"{where}{problem}",
                      "expected valid YAML") from None
  return parse(path, data)


def load_all(configs_dir=CONFIGS_DIR):
  """Loads every *.yaml in `configs_dir`, sorted by file name."""
  names = sorted(n for n in os.listdir(configs_dir) if n.endswith(".yaml"))
  return [load(os.path.join(configs_dir, n)) for n in names]

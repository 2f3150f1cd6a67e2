"""What an output directory serves: one Item per manifest entry.

Served generically by the entry's archive (a `.tar.gz` answers
`?tf-hub-format=compressed`, a `.tflite` `?lite-format=tflite`); the facts
shown on the pages (architecture, multiplier, ...) come from the module's
config when it can be read, and are left out otherwise.
"""

import dataclasses
import os

from export.core import config as config_lib
from export.core import published
from export.core import signatures
from export.destinations import kaggle_layout
from export.publishing import manifest

# Archive suffix -> (query parameter, value) a client asks it with.
QUERIES = {
    ".tar.gz": ("tf-hub-format", "compressed"),  # hub.load, hub.Module.
    ".tflite": ("lite-format", "tflite"),        # tfhub.dev's Lite links.
}
FORMAT_NAMES = {
    published.FORMAT_HUB: "TF1 Hub format",
    published.FORMAT_SAVED_MODEL_2: "TF2 SavedModel",
    published.FORMAT_LITE: "TensorFlow Lite",
    published.FORMAT_TFJS: "TF.js",
    published.FORMAT_ONNX: "ONNX",
}


@dataclasses.dataclass(frozen=True)
class Item:
  entry: manifest.Entry
  cfg: object = None       # config.Config, if its config could be read.
  module: object = None    # config.Module of the entry.

  @property
  def handle(self):
    return self.entry.handle

  @property
  def publisher(self):
    return self.handle.split("/", 1)[0]

  @property
  def format(self):
    return self.entry.format

  @property
  def query(self):
    """(name, value) of the query that asks for the archive, or None."""
    for suffix, query in QUERIES.items():
      if self.entry.archive.endswith(suffix):
        return query
    return None

  @property
  def hub_url(self):
    """The URL tfhub.dev served the module at (the tfhub cache's key)."""
    if self.module is not None:
      return self.module.url
    return config_lib.HUB_URL + self.handle

  @property
  def kaggle(self):
    """Its kaggle_layout.KaggleVersion, or None."""
    if self.module is None:
      return None
    return kaggle_layout.locate(self.cfg, self.module)

  @property
  def is_tfjs(self):
    return self.format == published.FORMAT_TFJS

  def facts(self):
    """{name: value} shown and filtered by (strings; empty if unknown)."""
    cfg, module = self.cfg, self.module
    return {
        "architecture": cfg.architecture if cfg else "",
        "multiplier": f"{cfg.depth_multiplier:g}" if cfg else "",
        "input_size": str(cfg.input_size) if cfg else "",
        "kind": module.kind if module else "",
        "format": self.format,
    }

  def signatures(self):
    """Names of the module's signatures (what a consumer calls)."""
    if self.module is None:
      return []
    iface = signatures.interface(self.module)
    if self.format == published.FORMAT_HUB:
      return sorted(signatures.tf1_signatures(iface))
    if self.format == published.FORMAT_SAVED_MODEL_2:
      return ["__call__"] + ([signatures.SERVING_SIGNATURE]
                             if iface.serving_signature else [])
    return ["default"]  # One graph: TF.js, Lite, ONNX.


def load(output_dir, configs_dir=config_lib.CONFIGS_DIR):
  """[Item] of `output_dir`'s manifest, sorted by handle.

  Raises:
    manifest.ManifestError: a damaged manifest.
  """
  configs = {}
  items = []
  for handle, entry in sorted(manifest.load(output_dir).items()):
    if entry.config not in configs:
      path = (entry.config if os.sep in entry.config else
              os.path.join(configs_dir, entry.config + ".yaml"))
      try:
        configs[entry.config] = config_lib.load(path)
      except config_lib.ConfigError:
        configs[entry.config] = None  # A config of one's own kept elsewhere.
    cfg = configs[entry.config]
    module = next((m for m in cfg.modules if m.handle == handle),
                  None) if cfg else None
    items.append(Item(entry, cfg if module else None, module))
  return items

"""Model cards: the markdown page of every module, from configs and facts.

`render(cfg, module)` fills the template of the module's card layout with the
facts of `export.cards.facts`; `render_all` does so for every module of every
config, keyed by path in the docs tree (`<publisher>/models/<rest of
handle>.md`), and adds the page of each publisher (`<publisher>/<publisher>.md`,
which the tfhub.dev docs validator requires for every card; its text is the
publisher's own, kept in `publishers/`). `python -m export.cards` writes that
tree or checks it. Nothing here imports TensorFlow.
"""

import os

from export.core import config as config_lib
from export.cards import facts as facts_lib
from export.cards import template

TEMPLATES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "templates")
PUBLISHERS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "publishers")
_LOADER = template.Loader(TEMPLATES_DIR)


class CardError(ValueError):
  """A module's card cannot be rendered (its layout does not fit it)."""


def _check_layout(cfg, module, facts):
  """Each layout has text for the modules it was published for only."""
  layout = facts["layout"]
  wrong = None
  if (layout == "lite") != module.is_lite:
    wrong = ("is for TensorFlow Lite files" if layout == "lite" else
             "is not for TensorFlow Lite files")
  elif (layout == "tfjs") != module.is_tfjs:
    wrong = ("is for TF.js models" if layout == "tfjs" else
             "is not for TF.js models")
  elif (layout == "onnx") != module.is_onnx:
    wrong = ("is for ONNX models" if layout == "onnx" else
             "is not for ONNX models")
  elif layout == "saved_model_2" and module.format != config_lib.FORMAT_SAVED_MODEL_2:
    wrong = "is for TF2 SavedModels"
  elif (layout not in ("saved_model_2", "lite", "tfjs", "onnx")
        and not module.is_tf1_hub):
    wrong = "is for the TF1 Hub format"
  elif layout == "hub_legacy" and module.variable_input_size:
    wrong = "says the input size is fixed"
  elif layout == "test_bucket" and (
      module.kind != "classification" or cfg.quantized or
      cfg.architecture != "mobilenet_v1"):
    wrong = "has text for a MobileNet V1 float classifier only"
  if wrong:
    raise CardError(f"{cfg.path}: card layout {layout!r} of {module.handle} "
                    f"{wrong}; name another in the module's card.layout "
                    f"(allowed: {', '.join(config_lib.CARD_LAYOUTS)})")


def render(cfg, module):
  """Returns the markdown card of `module` (of config `cfg`)."""
  facts = facts_lib.module_facts(cfg, module)
  if cfg.custom:
    return _custom_loader(cfg).render(facts["layout"], facts)
  _check_layout(cfg, module, facts)
  return _LOADER.render(facts["layout"], facts)


def _custom_loader(cfg):
  """Templates of a model of one's own: its own card template (if its
  config names one, rendered for every module), else the stock ones."""
  template = cfg.model.card_template
  if template is None:
    return _LOADER
  return _OwnTemplate(template)


class _OwnTemplate:
  """A config's own card template, which may include the stock partials."""

  def __init__(self, path):
    self.name = os.path.basename(path)[:-len(".md")]
    self.loader = template.Loader(os.path.dirname(path), TEMPLATES_DIR)

  def render(self, layout, facts):
    del layout  # One template for every module.
    return self.loader.render(self.name, facts)


def render_template(name, facts):
  """Renders template `name` (of templates/) with `facts`: pages other than
  module cards, such as a Kaggle model's description."""
  return _LOADER.render(name, facts)


def render_all(configs):
  """Returns {docs-relative path: card text} for every module of `configs`."""
  cards = {}
  for cfg in configs:
    for module in cfg.modules:
      path = facts_lib.docs_path(module)
      if path in cards:
        raise CardError(f"{cfg.path}: {module.handle} is also in another "
                        "config; each module has one card")
      cards[path] = render(cfg, module)
      if module.is_lite and cfg.custom:
        cards.setdefault(facts_lib.placeholder_docs_path(module),
                         _LOADER.render(
                             facts_lib.CUSTOM_PLACEHOLDER_LAYOUT,
                             facts_lib.custom_placeholder_facts(cfg, module)))
      elif module.is_lite:  # Its parent's card, once for all its files.
        cards.setdefault(facts_lib.placeholder_docs_path(module),
                         _LOADER.render(facts_lib.PLACEHOLDER_LAYOUT,
                                        facts_lib.placeholder_facts(cfg,
                                                                    module)))
  authors = {cfg.model.publisher: cfg.model.authors for cfg in configs
             if cfg.custom}
  for publisher in sorted({path.split("/", 1)[0] for path in cards}):
    cards[f"{publisher}/{publisher}.md"] = (
        _LOADER.render(facts_lib.CUSTOM_PUBLISHER_LAYOUT,
                       dict(publisher=publisher, authors=authors[publisher]))
        if publisher in authors else publisher_page(publisher))
  return cards


def publisher_page(publisher):
  """The publisher's page, as the publisher wrote it."""
  path = os.path.join(PUBLISHERS_DIR, f"{publisher}.md")
  try:
    with open(path, encoding="utf-8", newline="") as f:
      return f.read()
  except FileNotFoundError:
    raise CardError(
        f"{path}: no page for publisher {publisher!r}, which the docs "
        f"validator requires for its cards; publishers with a page: "
        f"{', '.join(sorted(n[:-3] for n in os.listdir(PUBLISHERS_DIR)))}"
    ) from None

"""tfhub.dev's docs validator's rules, for a docs tree {path: text}.

Implemented from the rules in tests/testdata/tfhub_validator/README.md
(tensorflow/tfhub.dev tools/validator.py at 850494a6), apart from the
exporter: `problems(tree)` lists what the validator would reject, one
string per problem naming the file. The asset-path rule is applied to
every card (the validator checks it on added or changed cards only, which
new cards are). ONNX cards (`# ONNX ...`) are not checked: tfhub.dev had no
ONNX models, so its validator has no rules for them (they are for the docs
tree and Kaggle Models only).
"""

import json
import os
import re

_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata",
                     "tfhub_validator", "tags.json")
with open(_DATA, encoding="utf-8") as _f:
  TAGS = json.load(_f)

_NAME = r"(?P<publisher>[a-z\d-]+)/(?P<name>([\w.-]+/)*[\w.-]+)/(?P<version>\d+)"
TITLE = re.compile(r"# (?P<type>Module|Placeholder|Lite|Tfjs|Coral) " + _NAME)
PUBLISHER_TITLE = re.compile(r"# Publisher (?P<publisher>[a-z\d-]+)")
METADATA = re.compile(r"<!--(?P<key>[\w\s-]+):(?P<value>.*)-->")
KEYS = {  # type: (required, optional)
    "Module": ({"asset-path", "fine-tunable", "format", "task"},
               {"network-architecture", "colab", "dataset", "language",
                "license", "interactive-visualizer"}),
    "Placeholder": ({"task"}, {"dataset", "fine-tunable",
                               "interactive-visualizer", "language",
                               "license", "network-architecture"}),
    "Lite": ({"asset-path", "parent-model"}, {"colab",
                                              "interactive-visualizer"}),
    "Tfjs": ({"asset-path", "parent-model"}, {"colab", "demo",
                                              "interactive-visualizer"}),
    "Publisher": (set(), set()),
}
REPEATABLE = {"dataset", "language", "task", "network-architecture"}
FORMATS = {"hub", "saved_model", "saved_model_2"}
ASSET_SUFFIX = {"Module": ".tar.gz", "Tfjs": ".tar.gz", "Lite": ".tflite"}
DEPLOYMENT_DIR = {"Lite": "lite", "Tfjs": "tfjs"}


def _metadata(lines, path, found):
  """{key: {values}} of the lines after the description, up to the first
  heading; records unexpected lines in `found`."""
  start = 1 if lines[1:2] != [""] else 2
  i = start
  while i < len(lines) and lines[i] and not lines[i].startswith("<!--"):
    i += 1
  if i == start:
    found.append(f"{path}: no description on line 2")
  tags = {}
  for line in lines[i:]:
    if line.startswith("#"):
      break
    if not line or line.startswith("[![Icon URL]]"):
      continue
    match = METADATA.fullmatch(line)
    if not match:
      found.append(f"{path}: unexpected line {line!r}")
      continue
    tags.setdefault(match["key"].strip(), set()).add(match["value"].strip())
  return tags


def _check_values(path, kind, tags, found):
  for key, values in tags.items():
    if len(values) > 1 and key not in REPEATABLE:
      found.append(f"{path}: several values of {key}: {sorted(values)}")
    for value in values:
      if key == "format" and value not in FORMATS:
        found.append(f"{path}: format {value!r}")
      if key == "task" and not value.startswith(("image-", "text-", "audio-",
                                                 "video-")):
        found.append(f"{path}: task {value!r}")
      if key in TAGS and key != "source" and value not in TAGS[key]["ids"]:
        found.append(f"{path}: {key} {value!r} is not a tag id")
      if key == "asset-path" and (
          not value.endswith(ASSET_SUFFIX[kind]) or
          re.match(r"https?://github\.com/", value)):
        found.append(f"{path}: asset-path {value!r} (expected "
                     f"{ASSET_SUFFIX[kind]}, not on github.com)")
      if key == "colab" and not value.startswith(
          "https://colab.research.google.com/"):
        found.append(f"{path}: colab {value!r}")


def check(path, text, tree):
  """Problems of one card at docs-relative `path` in `tree`."""
  found = []
  lines = text.split("\n")
  first = lines[0].replace("&zwnj;", "")
  title = TITLE.fullmatch(first)
  if title:
    kind, publisher = title["type"], title["publisher"]
    base = f"{publisher}/models/{title['name']}"
    want = (f"{base}/{DEPLOYMENT_DIR[kind]}/{title['version']}.md"
            if kind in DEPLOYMENT_DIR else f"{base}/{title['version']}.md")
  else:
    title = PUBLISHER_TITLE.fullmatch(first)
    if not title:
      return [f"{path}: first line {first!r} matches no title format"]
    kind, publisher = "Publisher", title["publisher"]
    want = f"{publisher}/{publisher}.md"
  if path != want:
    found.append(f"{path}: expected at {want}")
  if f"{publisher}/{publisher}.md" not in tree:
    found.append(f"{path}: no publisher page {publisher}/{publisher}.md")
  tags = _metadata(lines, path, found)
  required, optional = KEYS[kind]
  missing = sorted(required - set(tags))
  if missing:
    found.append(f"{path}: missing metadata {missing}")
  unsupported = sorted(set(tags) - required - optional)
  if unsupported:
    found.append(f"{path}: unsupported metadata {unsupported}")
  _check_values(path, kind, tags, found)
  return found


NOT_TFHUB = "# ONNX "  # The title of a card tfhub.dev has no type for.


def problems(tree):
  """Every problem of every card in `tree` ({docs-relative path: text})
  but the ONNX cards."""
  return [p for path, text in sorted(tree.items())
          if not text.startswith(NOT_TFHUB)
          for p in check(path, text, tree)]

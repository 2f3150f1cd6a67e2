"""The TF1 graphs and TF.js models carry the published models' op names.

The evidence is apart from the exporter: tests/testdata/published_tfjs/
holds every node (name, op) of public copies of model.json files that
tfhub.dev served for its TF.js MobileNets (its README says where each came
from). They were converted (TF.js converter 1.2.10.1, TF 1.14) from the TF1
modules' `default` signature, so their names are the TF1 graphs' op names
under `module_apply_default/`. For each copy, the same model is built here
from a synthetic checkpoint and compared:

* every op of the published model is an op of our TF1 inference graph, by
  name (after the renames TF's version brings: a batch norm op is named after
  its type, FusedBatchNorm then, FusedBatchNormV3 now);
* our TF.js model has every published op the converter does not fuse
  differently today (4.22 fuses depthwise convolutions with their bias and
  activation; 1.2.10.1 did not), with the same op type up to the TF version
  (Add then, AddV2 now), the same input and output nodes, and the module's
  variables as weights named `module/...`;
* neither has an EnsureShape op (TF.js cannot run one, tensorflow/tfjs#7690).
"""

import glob
import json
import os

import pytest

from tests.conftest import REPO

EVIDENCE = os.path.join(REPO, "tests", "testdata", "published_tfjs")
APPLY = "module_apply_default/"
# Op types whose nodes TF.js converter 4.22 fuses into
# FusedDepthwiseConv2dNative where 1.2.10.1 kept them (a depthwise
# convolution, its folded batch norm as a BiasAdd, its Relu6).
FUSED_DIFFERENTLY = {"DepthwiseConv2dNative", "BiasAdd", "Relu6"}
# Op types renamed between TF 1.14 and today (same computation).
OP_TYPES_NOW = {"Add": "AddV2", "FusedBatchNorm": "FusedBatchNormV3"}


def _evidence():
  """[(file name, transcription)] of the tfhub.dev converter's models."""
  found = []
  for path in sorted(glob.glob(os.path.join(EVIDENCE, "mobilenet_*.json"))):
    with open(path, encoding="utf-8") as f:
      found.append((os.path.basename(path), json.load(f)))
  return found


def _name_now(name):
  """A published op name as TF names that op today."""
  scope, _, leaf = name.rpartition("/")
  return f"{scope}/{OP_TYPES_NOW.get(leaf, leaf)}" if scope else name


def missing_published_ops(published_nodes, ours):
  """The published ops (non-Const [name, op] pairs, names under
  module_apply_default/ but the input's) that are not in `ours`, a set of op
  names as the module's own graph has them."""
  missing = set()
  for name, op in published_nodes:
    if op == "Const":
      continue
    name = name[len(APPLY):] if name.startswith(APPLY) else name
    if _name_now(name) not in ours:
      missing.add(name)
  return missing


@pytest.fixture(scope="module")
def built():
  """built(evidence) -> (cfg, TF1 inference graph op names, {name: op} of
  our TF.js model, its model.json), from a synthetic checkpoint."""
  import tempfile
  from export.core import config
  from export.core import signatures
  from export.formats import hub_v1
  from export.formats import tfjs
  from export.pipeline import exporter
  from export.sources import synthetic
  cache = {}
  work = tempfile.mkdtemp(prefix="published_op_names_")

  def get(evidence):
    handle = evidence["handle"].split(" ")[0]
    if handle in cache:
      return cache[handle]
    name, kind, version = handle.split("/")[3:6]
    cfg = config.load(name.replace("mobilenet_", ""))
    module = cfg.module(handle)
    values = synthetic.synthetic_values(cfg)
    values = {n: values[n] for n in exporter.module_layout(
        cfg, cfg.module(module.parent))}
    iface = signatures.interface(module)
    tf1 = hub_v1.writer(cfg, iface.network, values)
    graph, _ = tf1.graph(training=False)
    tf1_ops = {op.name: op.type for op in graph.get_operations()}
    out = os.path.join(work, handle)
    tfjs.converter(cfg, tf1)(iface, out)
    with open(os.path.join(out, "model.json"), encoding="utf-8") as f:
      model = json.load(f)
    cache[handle] = (cfg, tf1_ops, {n["name"]: n["op"] for n in
                                    model["modelTopology"]["node"]}, model)
    del kind, version
    return cache[handle]
  return get


@pytest.mark.parametrize("file_name,evidence", _evidence(),
                         ids=[e[0] for e in _evidence()])
def test_published_ops_are_in_our_tf1_graph(built, file_name, evidence):
  _, tf1_ops, _, _ = built(evidence)
  assert missing_published_ops(evidence["nodes"], set(tf1_ops)) == set()
  # The signature's output is the published model's.
  (output,) = evidence["graph_output_nodes"]
  assert output.startswith(APPLY) and output[len(APPLY):] in tf1_ops
  assert "EnsureShape" not in tf1_ops.values()


@pytest.mark.parametrize("file_name,evidence", _evidence(),
                         ids=[e[0] for e in _evidence()])
def test_published_ops_are_in_our_tfjs_model(built, file_name, evidence):
  _, _, nodes, model = built(evidence)
  for name, op in evidence["nodes"]:
    if op == "Const" or op in FUSED_DIFFERENTLY:
      continue
    now = _name_now(name)
    assert now in nodes, f"{name} ({op}) is not in our TF.js model"
    assert nodes[now] == OP_TYPES_NOW.get(op, op), (name, op, nodes[now])
  # The input as published (the placeholder the converter made for the
  # signature's input), and the one output.
  placeholders = [
      {"name": n["name"], "dtype": n["attr"]["dtype"]["type"],
       "shape": [int(d.get("size", 0)) for d in
                 n["attr"]["shape"]["shape"]["dim"]]}
      for n in model["modelTopology"]["node"] if n["op"] == "Placeholder"]
  assert placeholders == evidence["placeholders"]
  consumed = {i.lstrip("^").split(":")[0]
              for n in model["modelTopology"]["node"] for i in n.get("input",
                                                                    [])}
  outputs = [n for n, op in nodes.items()
             if op != "Const" and n not in consumed]
  assert outputs == evidence["graph_output_nodes"]
  assert "EnsureShape" not in nodes.values()
  # Weights named after the module's variables where no batch norm is
  # folded into them: the classifier's. (1.2.10.1 kept a kernel's variable
  # name when it folded a batch norm into it, 4.22 names it after the
  # convolution, e.g. .../Conv2d_0/Conv2D_weights.)
  published_variables = {w[0] for w in evidence["weights"]
                         if w[0].startswith("module/")
                         and "/Logits/" in w[0]}
  ours = {w["name"] for group in model["weightsManifest"]
          for w in group["weights"]}
  assert published_variables <= ours, sorted(published_variables - ours)
  assert all(w.startswith(("module/", APPLY)) for w in ours)
  # 4 MiB shards, named as published.
  (group,) = model["weightsManifest"]
  assert group["paths"] == evidence["paths"]


def test_output_node_literals_are_the_published_ones():
  """output_nodes.json (the literals tests/test_tfjs.py expects, per
  architecture and kind) gives each transcription's output node, lists
  every transcription, and marks as a choice exactly the entries no
  transcription shows."""
  with open(os.path.join(EVIDENCE, "output_nodes.json"),
            encoding="utf-8") as f:
    entries = json.load(f)["output_nodes"]
  assert sorted((e["architecture"], e["kind"]) for e in entries) == [
      (a, k) for a in ("mobilenet_v1", "mobilenet_v2")
      for k in ("classification", "feature_vector")]
  listed = set()
  for entry in entries:
    for file_name in entry["shown_by"]:
      with open(os.path.join(EVIDENCE, file_name), encoding="utf-8") as f:
        evidence = json.load(f)
      name, kind = evidence["handle"].split(" ")[0].split("/")[3:5]
      assert (name.rsplit("_", 2)[0], kind) == (entry["architecture"],
                                                entry["kind"]), file_name
      assert evidence["graph_output_nodes"] == [entry["node"]], file_name
      listed.add(file_name)
    assert bool(entry.get("choice")) == (not entry["shown_by"]), entry
  assert listed == {file_name for file_name, _ in _evidence()}


def test_a_renamed_op_is_caught(built):
  """Had the exporter kept its old names (`scaled_images` for the scaling's
  subtraction, V2's adds as `Add_<i>` in the network's scope), the check
  would name them."""
  file_name, evidence = next(e for e in _evidence() if "v2_" in e[0])
  _, tf1_ops, _, _ = built(evidence)
  renamed = set(tf1_ops) - {"hub_input/Sub",
                            "MobilenetV2/expanded_conv_2/add"}
  renamed |= {"scaled_images", "MobilenetV2/Add"}
  assert missing_published_ops(evidence["nodes"], renamed) == {
      "hub_input/Sub", "MobilenetV2/expanded_conv_2/add"}, file_name

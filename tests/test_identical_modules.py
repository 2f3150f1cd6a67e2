"""Modules of one config built from one network are exported together.

Which modules have the same files is decided by signatures.Interface, all a
writer reads of a module; which share their network (versions 4 and 5 of a
TF2 module, traced once) by `Interface.network`. These tests pin which
modules of the family share files and networks, check that the copies are
what an export of their own would write, that a group builds its network
once, and that the runner (export.one, export_all) reports and packs each.
"""

import filecmp
import json
import os

from export.core import config
from export.pipeline import exporter
from export.core import signatures
from tests.conftest import export, run_cli


def _tail(handle):
  """kind/version; "lite <variant>" for a Lite file; "tfjs kind/version"
  for a TF.js model; "onnx <kind>" for an ONNX model."""
  parts = handle.split("/")
  if parts[1] == "lite-model":
    return f"lite {parts[-2]}"
  if parts[1] == "onnx-model":
    return "onnx " + next(p for p in parts if p in config.KINDS)
  if parts[1] == "tfjs-model":
    return "tfjs " + "/".join(parts[-4:-2])
  return "/".join(parts[-2:])


def _shared(group_key):
  """{(config or architecture, (handle tails...))} of groups of 2 or more."""
  shared = set()
  for cfg in config.load_all():
    groups = {}
    for m in cfg.modules:
      groups.setdefault(group_key(m), []).append(_tail(m.handle))
    for tails in groups.values():
      if len(tails) > 1:
        shared.add((cfg.name if cfg.architecture == "mobilenet_v1"
                    else cfg.architecture, tuple(tails)))
  return shared


def test_only_v2_versions_1_and_2_share_files_across_the_family():
  """And seed 000's test-bucket module, a second handle for a V1 module."""
  assert _shared(signatures.interface) == {
      ("v1_050_128", ("classification/1", "classification/1")),
      ("mobilenet_v2", ("classification/1", "classification/2")),
      ("mobilenet_v2", ("feature_vector/1", "feature_vector/2")),
      # And so the TF.js models converted from them.
      ("mobilenet_v2", ("tfjs classification/1", "tfjs classification/2")),
      ("mobilenet_v2", ("tfjs feature_vector/1", "tfjs feature_vector/2"))}


def test_which_modules_share_their_network():
  """TF2 versions 4 and 5 of a kind share their trace; a TF1 version's
  classification and feature vector modules share their graphs, and the
  TF.js models converted from them; a Lite model's two files share one
  conversion."""
  shared = {(name, frozenset(tails)) for name, tails in
            _shared(lambda m: signatures.interface(m).network)}
  expected = set()
  for cfg in config.load_all():
    name = (cfg.name if cfg.architecture == "mobilenet_v1"
            else cfg.architecture)
    tf1 = {}
    for m in cfg.modules:
      if m.is_tf1_hub:
        tf1.setdefault(signatures.interface(m).network, set()).add(
            _tail(m.handle))
    for m in cfg.modules:
      if m.is_tfjs:  # With its parent's network.
        parent = cfg.module(m.parent)
        tf1[signatures.interface(parent).network].add(_tail(m.handle))
    expected |= {(name, frozenset(t)) for t in tf1.values()}
    if not cfg.quantized:
      expected |= {(name, frozenset({f"{kind}/4", f"{kind}/5"}))
                   for kind in ("classification", "feature_vector")}
    if any(m.is_lite for m in cfg.modules):
      # A quantized config's ONNX models are converted from its Lite file.
      expected.add((name, frozenset(
          {"lite default", "lite metadata"} |
          ({"onnx classification", "onnx feature_vector"} if cfg.quantized
           else set()))))
  assert shared == expected
  # E.g. the groups the runner hands to one worker task each.
  cfg = config.load("v2_050_96")
  assert [[_tail(m.handle) for m in group]
          for group in exporter.network_groups(cfg.modules)] == [
              ["classification/1", "classification/2", "feature_vector/1",
               "feature_vector/2", "tfjs classification/1",
               "tfjs classification/2", "tfjs feature_vector/1",
               "tfjs feature_vector/2"],
              ["classification/3", "feature_vector/3",
               "tfjs classification/3", "tfjs feature_vector/3"],
              ["classification/4", "classification/5"],
              ["feature_vector/4", "feature_vector/5"],
              ["onnx classification"], ["onnx feature_vector"]]
  cfg = config.load("v1_025_128_quant")
  assert [[_tail(m.handle) for m in group]
          for group in exporter.network_groups(cfg.modules)] == [
              ["classification/1", "feature_vector/1"],
              ["classification/3", "feature_vector/3"],
              ["lite default", "lite metadata", "onnx classification",
               "onnx feature_vector"]]


def test_a_tf1_group_builds_each_tag_sets_graph_once(tmp_path, monkeypatch):
  from export.formats import hub_v1
  from export.sources import synthetic
  built = []
  build_graph = hub_v1.build_graph
  monkeypatch.setattr(hub_v1, "build_graph",
                      lambda cfg, iface, training: built.append(training) or
                      build_graph(cfg, iface, training))
  cfg = config.load("v2_035_96")
  group = [cfg.module(f"google/imagenet/mobilenet_v2_035_96/{kind}/3")
           for kind in ("classification", "feature_vector")]
  values = synthetic.synthetic_values(cfg)
  values = {n: values[n] for n in exporter.group_layout(cfg, group)}
  published = list(exporter.export_group(cfg, group, values, str(tmp_path)))
  assert [m for m, _, _ in published] == group
  assert sorted(built) == [False, True]
  # Each module holds its own variables only.
  for module, directory, _ in published:
    from tensorflow.python.training import py_checkpoint_reader
    reader = py_checkpoint_reader.NewCheckpointReader(
        os.path.join(directory, "variables", "variables"))
    assert reader.get_variable_to_shape_map().keys() == \
        exporter.module_layout(cfg, module).keys()


def test_a_group_traces_its_network_once(tmp_path, monkeypatch):
  from export.formats import saved_model
  from export.sources import synthetic
  traced = []
  build_call = saved_model._build_call
  monkeypatch.setattr(saved_model, "_build_call",
                      lambda *args: traced.append(1) or build_call(*args))
  cfg = config.load("v2_035_96")
  group = [cfg.module(f"google/imagenet/mobilenet_v2_035_96/feature_vector/{v}")
           for v in (4, 5)]
  values = synthetic.synthetic_values(cfg)
  values = {n: values[n] for n in exporter.group_layout(cfg, group)}
  published = list(exporter.export_group(cfg, group, values, str(tmp_path)))
  assert [m for m, _, _ in published] == group
  assert len(traced) == 1
  # Same variables, one with the serving signature (and its saver).
  sizes = [os.path.getsize(os.path.join(d, "saved_model.pb"))
           for _, d, _ in published]
  assert sizes[0] < sizes[1]


def test_interface_ignores_what_only_names_or_describes_a_module():
  cfg = config.load("v1_025_128_quant")
  q1, q3 = (cfg.module(f"google/imagenet/mobilenet_v1_025_128/quantops/"
                       f"classification/{v}") for v in (1, 3))
  # Version 3's input range is 0.05% wider: different graphs.
  assert signatures.interface(q1) != signatures.interface(q3)
  assert signatures.interface(q3).quantized_input_range == (-1.0005, 1.0005)
  v2 = config.load("v2_050_96")
  one, two = (v2.module(f"google/imagenet/mobilenet_v2_050_96/"
                        f"classification/{v}") for v in (1, 2))
  assert signatures.interface(one) == signatures.interface(two)


def _same_tree(a, b):
  cmp = filecmp.dircmp(a, b)
  files = [os.path.join(d, f) for d, _, fs in os.walk(a) for f in fs]
  assert files
  for path in files:
    other = os.path.join(b, os.path.relpath(path, a))
    assert filecmp.cmp(path, other, shallow=False), path
  assert not cmp.left_only and not cmp.right_only


def test_copies_are_byte_identical_to_their_own_export(variant, tmp_path,
                                                       cache_dir):
  v = variant("v2_050_96")
  first, copy = (v.modules[f"google/imagenet/mobilenet_v2_050_96/"
                           f"classification/{n}"] for n in (1, 2))
  _same_tree(first, copy)
  # What exporting version 2 on its own writes: the same (TF1 modules are
  # reproducible byte for byte).
  module = v.cfg.module("google/imagenet/mobilenet_v2_050_96/"
                        "classification/2")
  own = export(v.cfg, str(tmp_path), cache_dir, only=[module.handle])
  _same_tree(own[module.handle], copy)


def test_runner_exports_once_then_copies_and_packs_each(tmp_path):
  handles = [f"google/imagenet/mobilenet_v2_035_96/classification/{v}"
             for v in (1, 2)]
  out = tmp_path / "out"
  summary = tmp_path / "summary.json"
  result = run_cli("one", "--config=v2_035_96", "--synthetic",
                   f"--output_dir={out}", f"--cache_dir={tmp_path / 'cache'}",
                   f"--summary_json={summary}",
                   *(f"--only={h}" for h in handles))
  assert result.returncode == 0, result.stdout + result.stderr
  with open(summary) as f:
    modules = json.load(f)["modules"]
  assert [(m["handle"], m["status"]) for m in modules] == [
      (h, "exported") for h in handles]
  write = [m["seconds"] - m["pack_seconds"] for m in modules]
  assert write[1] < write[0] / 2  # A copy, not a second export.
  _same_tree(out / handles[0], out / handles[1])
  with open(out / "manifest.json") as f:
    entries = json.load(f)["modules"]
  assert set(entries) == set(handles)
  for h in handles:
    assert os.path.isfile(out / entries[h]["archive"])

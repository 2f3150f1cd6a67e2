"""Graphs shared across input sizes (signatures.graph_key): MobileNet V1's
modules that take any size (TF1 version 3, its TF.js models, TF2 versions 4
and 5) are written for a second size from the graphs and traces built for
the first, with the second size's values, and their files are byte for
byte those written from fresh graphs; modules of a fixed size are built
anew. And the runner sends such networks to the worker that built them.
"""

import os

import pytest

FORMATS = ("hub", "saved_model_2", "tfjs")


def _write(cfg, output_dir):
  from export.pipeline import exporter
  from export.sources import synthetic
  values = synthetic.synthetic_values(cfg)
  modules = [m for m in cfg.modules if m.format in FORMATS]
  for group in exporter.network_groups(modules):
    layout = exporter.group_layout(cfg, group)
    list(exporter.export_group(cfg, group,
                               {n: values[n] for n in layout}, output_dir))
  return [m.handle for m in modules]


def _files(root, handles):
  out = {}
  for handle in handles:
    base = os.path.join(root, handle)
    for directory, _, names in os.walk(base):
      for name in names:
        path = os.path.join(directory, name)
        with open(path, "rb") as f:
          out[os.path.relpath(path, root)] = f.read()
  return out


@pytest.fixture
def counted(monkeypatch):
  """{"tf1": graphs built, "tf2": networks traced}, with empty caches."""
  from export.formats import hub_v1
  from export.formats import network
  from export.formats import saved_model
  counts = {"tf1": 0, "tf2": 0}

  def counting(function, key):
    def wrapped(*args, **kwargs):
      counts[key] += 1
      return function(*args, **kwargs)
    return wrapped

  monkeypatch.setattr(hub_v1, "build_graph",
                      counting(hub_v1.build_graph, "tf1"))
  monkeypatch.setattr(saved_model, "_build_call",
                      counting(saved_model._build_call, "tf2"))  # pylint: disable=protected-access

  def empty_caches():
    monkeypatch.setattr(hub_v1, "_RECENT", network.RecentGraphs(kept=4))
    monkeypatch.setattr(saved_model, "_RECENT", network.RecentGraphs(kept=2))

  empty_caches()
  return counts, empty_caches


def test_second_size_reuses_graphs_and_writes_the_same_bytes(tmp_path,
                                                             counted):
  from export.core import config
  counts, empty_caches = counted
  first, second = config.load("v1_025_128"), config.load("v1_025_160")

  handles = _write(second, str(tmp_path / "fresh"))
  fresh_counts = dict(counts)
  # Version 1 (fixed size) and 3 (any size): two tag sets each; TF2: the
  # classification and the feature vector network.
  assert fresh_counts == {"tf1": 4, "tf2": 2}

  empty_caches()
  _write(first, str(tmp_path / "first"))
  counts.update(tf1=0, tf2=0)
  _write(second, str(tmp_path / "shared"))
  # Only version 1's graphs (fixed size) were built again.
  assert counts == {"tf1": 2, "tf2": 0}

  fresh = _files(str(tmp_path / "fresh"), handles)
  shared = _files(str(tmp_path / "shared"), handles)
  assert len(fresh) > 30
  assert sorted(shared) == sorted(fresh)
  for name in fresh:
    assert shared[name] == fresh[name], name


def test_graph_key_is_none_for_a_fixed_size():
  from export.core import config
  from export.pipeline import exporter
  v1, v2 = config.load("v1_025_128"), config.load("v2_035_96")
  keys = {tuple(m.handle for m in g): exporter.graph_key(v1, g)
          for g in exporter.network_groups(v1.modules)}
  shared = sorted(h for hs, k in keys.items() if k is not None for h in hs)
  assert shared == sorted(
      m.handle for m in v1.modules
      if (m.format in ("hub", "tfjs") and m.version == 3)
      or m.format in ("saved_model_2", "onnx"))
  assert all(exporter.graph_key(v2, g) is None
             for g in exporter.network_groups(v2.modules))
  other = config.load("v1_025_224")
  assert {exporter.graph_key(other, g)
          for g in exporter.network_groups(other.modules)} == set(
              keys.values())
  half = config.load("v1_050_128")
  assert not {exporter.graph_key(half, g)
              for g in exporter.network_groups(half.modules)} & {
                  k for k in keys.values() if k is not None}


def test_workers_are_replaced_one_at_a_time_and_take_their_keys(tmp_path):
  """Each worker process is replaced after its share of tasks while the
  other keeps its own; a network goes to the free worker that ran its graph
  key lately (the first free one if none did)."""
  from export.pipeline import runner
  workers = runner._Workers(2, str(tmp_path), tasks_per_worker=2)  # pylint: disable=protected-access
  pids = {0: [], 1: []}
  try:
    for _ in range(6):
      for n, slot in enumerate(workers.slots):
        workers.submit(slot, n, os.getpid, key=("key", n))
      for _ in range(2):
        tag, (pid, error, _, _) = workers.next_done(timeout=120)
        assert error is None
        pids[tag].append(pid)
    for n in (0, 1):  # Two tasks a process, then a fresh one.
      assert pids[n][0] == pids[n][1] != pids[n][2] == pids[n][3], pids
      assert pids[n][3] != pids[n][4] == pids[n][5], pids
    assert not set(pids[0]) & set(pids[1])
    assert workers.free_slot([("key", 1)]) is workers.slots[1]
    assert workers.free_slot([("other", 0)]) is workers.slots[0]
    exports = runner.collections.deque(
        runner._Export(None, [], [], "", "", key)  # pylint: disable=protected-access
        for key in (None, ("key", 0), ("key", 1)))
    assert runner._take(exports, workers.slots[1]).key == ("key", 1)  # pylint: disable=protected-access
    assert runner._take(exports, workers.slots[1]).key is None  # pylint: disable=protected-access
  finally:
    workers.close()

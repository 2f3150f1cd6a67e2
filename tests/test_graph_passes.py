"""The TF1 meta graph passes (export.formats.graph_passes) on tiny graphs."""

import numpy as np
import pytest

import tensorflow.compat.v1 as tf

from export.formats import graph_passes


def _tiny_meta_graph(control_read=False):
  """v (resource variable) used twice, y = v * 2 + v * 3; plus what TF adds
  as a side effect (VarIsInitializedOp). Returns (meta graph, y's name)."""
  with tf.Graph().as_default() as graph:
    with tf.variable_scope("", use_resource=True):
      v = tf.get_variable("v", [2], initializer=tf.constant_initializer(1.0))
    first = v * 2.0
    if control_read:
      with tf.control_dependencies([first]):
        second = v.read_value() * 3.0  # Ordered: must keep its own read.
    else:
      second = v * 3.0
    y = tf.add(first, second, name="y")
    tf.add_to_collection("outputs", y)
    meta_graph = tf.train.export_meta_graph(graph=graph)
  return meta_graph, y.name


def _reads(meta_graph):
  return [n for n in meta_graph.graph_def.node if n.op == "ReadVariableOp"]


def _run(meta_graph, y_name, value):
  """y of `meta_graph` with v set to `value`."""
  with tf.Graph().as_default() as graph:
    tf.train.import_meta_graph(meta_graph)
    assign = tf.raw_ops.AssignVariableOp(
        resource=graph.get_tensor_by_name("v:0"), value=value)
    with tf.Session(graph=graph) as sess:
      sess.run(assign)
      return sess.run(y_name)


def test_share_variable_reads_leaves_one_read_per_variable():
  meta_graph, y = _tiny_meta_graph()
  before = _run(meta_graph, y, np.array([1.0, 2.0], np.float32))
  assert len(_reads(meta_graph)) > 1
  graph_passes.share_variable_reads(meta_graph)
  graph_passes.trim(meta_graph)
  reads = _reads(meta_graph)
  assert [r.name for r in reads] == ["v/Read/ReadVariableOp"]  # The snapshot.
  np.testing.assert_array_equal(
      _run(meta_graph, y, np.array([1.0, 2.0], np.float32)), before)


def test_share_variable_reads_keeps_reads_ordered_by_control_inputs():
  meta_graph, _ = _tiny_meta_graph(control_read=True)
  graph_passes.share_variable_reads(meta_graph)
  graph_passes.trim(meta_graph)
  controlled = [r for r in _reads(meta_graph)
                if any(i.startswith("^") for i in r.input)]
  assert len(controlled) == 1  # Still its own read, after `first`.
  assert len(_reads(meta_graph)) == 2


def test_trim_drops_unused_ops_and_bookkeeping_attrs():
  meta_graph, _ = _tiny_meta_graph()
  ops = {n.op for n in meta_graph.graph_def.node}
  assert "VarIsInitializedOp" in ops
  graph_passes.trim(meta_graph)
  nodes = meta_graph.graph_def.node
  assert "VarIsInitializedOp" not in {n.op for n in nodes}
  assert {"v", "y", "v/Assign", "v/Read/ReadVariableOp"} <= {
      n.name for n in nodes}  # Roots: collections and the VariableDef.
  for node in nodes:
    assert "_output_shapes" not in node.attr
    if "_class" in node.attr:
      assert node.attr["_class"].list.s != [b"loc:@" + node.name.encode()]


def test_trim_refuses_graphs_with_functions():
  meta_graph, _ = _tiny_meta_graph()
  meta_graph.graph_def.library.function.add().signature.name = "f"
  with pytest.raises(RuntimeError, match="functions"):
    graph_passes.trim(meta_graph)


def test_graph_mode_equality_is_scoped():
  # Inside, tensors compare and hash by identity (TF1); outside, TF2's
  # element-wise equality is back.
  from tensorflow.python.framework import tensor as tensor_lib  # pylint: disable=g-direct-tensorflow-import
  previous = tensor_lib.Tensor._USE_EQUALITY  # pylint: disable=protected-access
  with tf.Graph().as_default():
    a, b = tf.constant(1.0), tf.constant(1.0)
    with graph_passes.graph_mode_equality():
      assert tensor_lib.Tensor._USE_EQUALITY is False  # pylint: disable=protected-access
      assert len({a, b}) == 2 and a != b
    assert tensor_lib.Tensor._USE_EQUALITY == previous  # pylint: disable=protected-access


def test_dropped_collection_entries_take_their_nodes_with_them():
  """What a feature vector module's graph is made with: a second variable
  under "head/" and its use go once its collection entries do."""
  with tf.Graph().as_default() as graph:
    with tf.variable_scope("", use_resource=True):
      v = tf.get_variable("v", [2], initializer=tf.constant_initializer(1.0))
      w = tf.get_variable("head/w", [2],
                          initializer=tf.constant_initializer(2.0))
    y = tf.identity(v * 2.0, name="y")
    tf.add_to_collection("outputs", y)
    z = tf.math.square(w, name="head/z")
    tf.add_to_collection("outputs", z)
    meta_graph = tf.train.export_meta_graph(graph=graph)
  assert "Square" in {op.name for op in
                      meta_graph.meta_info_def.stripped_op_list.op}
  graph_passes.drop_collection_entries(meta_graph, "head/")
  graph_passes.trim(meta_graph)
  names = {n.name for n in meta_graph.graph_def.node}
  assert "y" in names and "v" in names
  assert not [n for n in names if n.startswith("head/")]
  assert list(meta_graph.collection_def["outputs"].node_list.value) == ["y:0"]
  graph_passes.keep_op_defs(meta_graph,
                            {n.op for n in meta_graph.graph_def.node})
  ops = [op.name for op in meta_graph.meta_info_def.stripped_op_list.op]
  assert "Square" not in ops and ops == sorted(ops)
  assert np.isclose(_run(meta_graph, "y:0",
                         np.array([1.0, 2.0], np.float32)), [2.0, 4.0]).all()

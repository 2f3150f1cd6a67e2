"""Rewrites of TF1 meta graphs before they are written, and a build helper.

TF2's graph building leaves things in a TF1 graph that TF1 did not: a
`ReadVariableOp` per use of a variable, each variable's `VarIsInitializedOp`,
bookkeeping attrs. The passes below make the TF1 Hub format's graphs what
TF1 would have written (and a third smaller); each works on a MetaGraphDef in
place and is unit-tested on tiny graphs (tests/test_graph_passes.py).
"""

import contextlib

import tensorflow.compat.v1 as tf
from tensorflow.core.framework import variable_pb2

# The collections that hold serialized VariableDefs.
VARIABLE_COLLECTIONS = frozenset({
    tf.GraphKeys.GLOBAL_VARIABLES, tf.GraphKeys.TRAINABLE_VARIABLES,
    tf.GraphKeys.MODEL_VARIABLES})


def _variable_defs(meta_graph):
  """The VariableDefs of `meta_graph`'s variable collections."""
  for key, collection in meta_graph.collection_def.items():
    if key in VARIABLE_COLLECTIONS:
      for serialized in collection.bytes_list.value:
        yield variable_pb2.VariableDef.FromString(serialized)


def _node_name(tensor):
  """"^a", "a:1", "a" -> "a"."""
  return tensor.lstrip("^").split(":")[0]


def share_variable_reads(meta_graph):
  """Makes every use of a variable read its snapshot, in place.

  Graph building in TF2 reads a resource variable anew at each use (each conv,
  each batch norm parameter), where TF1's ref variables had one `<var>/read`.
  Reads of one variable without control inputs are interchangeable within a
  run (none is ordered against an assignment), so each is replaced by the
  snapshot read that the variable's VariableDef names and every loader keeps;
  `trim` then drops the unused reads, a sixth of the graph.
  """
  nodes = {node.name: node for node in meta_graph.graph_def.node}
  snapshot_of = {}  # Variable handle node: its snapshot ReadVariableOp.
  for variable_def in _variable_defs(meta_graph):
    snapshot = nodes[_node_name(variable_def.snapshot_name)]
    if snapshot.op != "ReadVariableOp" or len(snapshot.input) != 1:
      raise RuntimeError(f"unexpected variable snapshot: {snapshot}")
    snapshot_of[snapshot.input[0]] = snapshot
  replaced = {}  # Read node: the snapshot replacing it.
  for node in meta_graph.graph_def.node:
    if node.op != "ReadVariableOp" or len(node.input) != 1:
      continue  # Not a read, or a read ordered by a control input.
    snapshot = snapshot_of.get(node.input[0])
    if snapshot is not None and node.attr["dtype"] == snapshot.attr["dtype"]:
      replaced[node.name] = snapshot.name
  for node in meta_graph.graph_def.node:
    inputs = []
    for tensor in node.input:
      name = _node_name(tensor)
      if name in replaced:
        tensor = tensor.replace(name, replaced[name], 1)
      # Two control inputs may now name the same read.
      if not (tensor.startswith("^") and tensor in inputs):
        inputs.append(tensor)
    node.input[:] = inputs


# Attrs TF writes for its own bookkeeping that loading does not need:
# inferred output shapes (the importer infers them again), TF2's marker for
# automatic control dependencies, and VarHandleOp's debug_name, a copy of
# shared_name.
_BOOKKEEPING_ATTRS = ("_output_shapes", "_has_manual_control_dependencies",
                      "debug_name")


def _graph_roots(meta_graph):
  """Names of the nodes a loader of `meta_graph` looks up."""
  names = set()
  for signature_def in meta_graph.signature_def.values():
    for tensor_info in (*signature_def.inputs.values(),
                        *signature_def.outputs.values()):
      names.add(tensor_info.name)
  for collection in meta_graph.collection_def.values():
    names.update(collection.node_list.value)
  for variable_def in _variable_defs(meta_graph):
    names.update((variable_def.variable_name, variable_def.initializer_name,
                  variable_def.snapshot_name, variable_def.initial_value_name))
  return {_node_name(name) for name in names if name}


def trim(meta_graph):
  """Drops nodes no root depends on, and bookkeeping attrs, in place.

  What goes are ops TF adds as a side effect of building, e.g. the
  VarIsInitializedOp of every variable; they would be imported and never run.
  """
  graph_def = meta_graph.graph_def
  if graph_def.library.function:
    raise RuntimeError("graph has functions; trimming does not follow them")
  nodes = {node.name: node for node in graph_def.node}
  needed, pending = set(), list(_graph_roots(meta_graph))
  while pending:
    name = pending.pop()
    if name not in needed:
      needed.add(name)
      pending.extend(_node_name(tensor) for tensor in nodes[name].input)
  kept = [node for node in graph_def.node if node.name in needed]
  for node in kept:
    for attr in _BOOKKEEPING_ATTRS:
      node.attr.pop(attr, None)
    # Colocation of a node with itself says nothing, and a constant can be
    # placed anywhere (TF copies it where it is used).
    if "_class" in node.attr and (
        node.op == "Const" or
        node.attr["_class"].list.s == [b"loc:@" + node.name.encode()]):
      del node.attr["_class"]
  del graph_def.node[:]
  graph_def.node.extend(kept)


def drop_collection_entries(meta_graph, prefix):
  """Removes every collection entry named under `prefix` (VariableDefs and
  node names), in place, so that `trim` then drops what only they needed."""
  for key, collection in meta_graph.collection_def.items():
    if key in VARIABLE_COLLECTIONS:
      kept = [serialized for serialized in collection.bytes_list.value
              if not variable_pb2.VariableDef.FromString(
                  serialized).variable_name.startswith(prefix)]
      del collection.bytes_list.value[:]
      collection.bytes_list.value.extend(kept)
    elif collection.HasField("node_list"):
      kept = [name for name in collection.node_list.value
              if not name.startswith(prefix)]
      del collection.node_list.value[:]
      collection.node_list.value.extend(kept)


def keep_op_defs(meta_graph, op_names):
  """Keeps only the OpDefs of `op_names` in the meta graph's stripped op
  list (the ops a loader must know), in their order, in place."""
  op_list = meta_graph.meta_info_def.stripped_op_list
  kept = [op for op in op_list.op if op.name in op_names]
  del op_list.op[:]
  op_list.op.extend(kept)


@contextlib.contextmanager
def graph_mode_equality():
  """Tensors and variables compare and hash by identity, as in TF1.

  TF2's element-wise equality makes each variable hash go through an eager
  check, and the legacy layers Slim builds on hash every variable of the
  graph per variable added: a third of the graph-building time.
  """
  # pylint: disable=protected-access
  from tensorflow.python.framework import tensor as tensor_lib  # pylint: disable=g-direct-tensorflow-import,g-import-not-at-top
  previous = tensor_lib.Tensor._USE_EQUALITY
  tensor_lib.Tensor._USE_EQUALITY = False
  try:
    yield
  finally:
    tensor_lib.Tensor._USE_EQUALITY = previous

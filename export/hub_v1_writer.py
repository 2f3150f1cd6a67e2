"""Writes a module in the TF1 Hub format, as read by `hub.Module`.

tensorflow-hub 0.16 dropped the exporting half of this format, so this is our
own writer. The format (what tensorflow-hub 0.15's `native_module.Loader`
reads) is a TF1 SavedModel with:

* one MetaGraphDef per tag set: `{}` for inference and `{"train"}` with batch
  norm in training mode and its moving-average updates in UPDATE_OPS;
* the same signatures in each, e.g. `default` and `image_feature_vector`,
  with inputs `images` (and `batch_norm_momentum` for `*_with_bn_hparams`) and
  the output `default`;
* only collections hub.Module knows how to import, plus
  `hub_module_attachments`, a bytes_list of ModuleAttachment protos; here one
  ImageModuleInfo with the default image size (for hub.get_expected_image_size);
* the variables, saved once (all tag sets share them), and no saver in the
  graphs (hub.Module restores with init_from_checkpoint);
* `tfhub_module.pb`, a ModuleDef with format FORMAT_V3.
"""

import contextlib
import os

import tensorflow.compat.v1 as tf
from tensorflow.core.framework import variable_pb2
from tensorflow.core.protobuf import saved_model_pb2

from export import hub_protos
from export import nets
from export import signatures
from export.nets import common

# Collections that hub.Module (0.15) imports; any other one makes it refuse
# the module, so the writer checks for them rather than find out at load time.
SUPPORTED_COLLECTIONS = frozenset({
    tf.GraphKeys.GLOBAL_VARIABLES, tf.GraphKeys.TRAINABLE_VARIABLES,
    tf.GraphKeys.MODEL_VARIABLES, tf.GraphKeys.TABLE_INITIALIZERS,
    tf.GraphKeys.UPDATE_OPS, tf.GraphKeys.REGULARIZATION_LOSSES,
    tf.GraphKeys.ASSET_FILEPATHS, tf.GraphKeys.COND_CONTEXT,
    tf.GraphKeys.WHILE_CONTEXT, hub_protos.ATTACHMENTS_COLLECTION})
# The collections above that hold serialized VariableDefs.
VARIABLE_COLLECTIONS = frozenset({
    tf.GraphKeys.GLOBAL_VARIABLES, tf.GraphKeys.TRAINABLE_VARIABLES,
    tf.GraphKeys.MODEL_VARIABLES})


def _zeros_initialized(getter, *args, **kwargs):
  # Variables get their values from the module's variables file: hub.Module
  # restores them (its init_from_checkpoint replaces every initializer) and
  # so does hub.load. A constant zero (one Const op, stored as a single value)
  # instead of Slim's random initializers keeps the graphs small and quick to
  # build; tf.zeros_initializer would add a Fill and two Consts per variable.
  kwargs["initializer"] = tf.constant_initializer(0.0)
  return getter(*args, **kwargs)


@contextlib.contextmanager
def _graph_mode_equality():
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


def build_graph(cfg, iface, training):
  """Builds one tag set's graph of a module in the default graph.

  Args:
    cfg: the VariantConfig.
    iface: the module's signatures.Interface.
    training: whether batch norm is in training mode (tags {"train"}).

  Returns:
    {signature name: SignatureDef}.
  """
  size = None if iface.variable_input_size else cfg.input_size
  images = tf.placeholder(tf.float32, [None, size, size, 3],
                          name=signatures.IMAGES_INPUT)
  inputs = {signatures.IMAGES_INPUT: images}
  net_input = images
  if size is not None:
    # hub.Module may feed a tensor of unknown shape; a fixed-size module
    # refuses other sizes at run time instead of computing on them.
    net_input = tf.ensure_shape(images, [None, size, size, 3])
  if iface.batch_norm_momentum_input:
    momentum = tf.placeholder_with_default(
        tf.constant(signatures.DEFAULT_BATCH_NORM_MOMENTUM, tf.float32), [],
        name=signatures.BATCH_NORM_MOMENTUM_INPUT)
  else:
    momentum = None  # The architecture's training default.
  # Resource variables, as hub.create_module_spec made them.
  with tf.variable_scope("", use_resource=True,
                         custom_getter=_zeros_initialized):
    out = nets.build(
        cfg.architecture, common.scale_images(net_input),
        depth_multiplier=cfg.depth_multiplier,
        num_classes=iface.num_classes,
        is_training=training, batch_norm_decay=momentum,
        quantized_input_bound=iface.quantized_input_bound)
  outputs = {"logits": out.logits, "features": out.features}
  info = tf.saved_model.utils.build_tensor_info
  defs = {}
  for name, sig in signatures.tf1_signatures(iface).items():
    sig_inputs = dict(inputs)
    if sig.bn_hparams:
      sig_inputs[signatures.BATCH_NORM_MOMENTUM_INPUT] = momentum
    defs[name] = tf.saved_model.signature_def_utils.build_signature_def(
        inputs={k: info(v) for k, v in sig_inputs.items()},
        outputs={signatures.OUTPUT_KEY: info(outputs[sig.output])})
  return defs


def _check_graph(graph, layout):
  unsupported = set(graph.get_all_collection_keys()) - SUPPORTED_COLLECTIONS
  if unsupported:
    raise RuntimeError(f"graph has collections hub.Module cannot import: "
                       f"{sorted(unsupported)}")
  have = {v.op.name: tuple(v.shape.as_list())
          for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)}
  if have != layout:
    raise RuntimeError(f"graph variables differ from the module layout: "
                       f"{sorted(set(have.items()) ^ set(layout.items()))}")


def _meta_graph(graph, tags, signature_defs):
  """Exports `graph` as one tag set's MetaGraphDef, as hub 0.15 did.

  No saver is built into the graph: hub.Module restores variables with
  init_from_checkpoint and exports with a saver of its own, and TF's SavedModel
  loaders build one at load time when the MetaGraphDef has no saver_def. Save
  and restore ops for every variable would otherwise be most of the graph.
  """
  # Default-valued attrs are stripped so that older TF versions, which do not
  # know attrs added since, can load the module.
  meta_graph = tf.train.export_meta_graph(graph=graph, strip_default_attrs=True)
  meta_graph.meta_info_def.tags.extend(sorted(tags))
  for name, signature_def in signature_defs.items():
    meta_graph.signature_def[name].CopyFrom(signature_def)
  _share_variable_reads(meta_graph)
  _trim(meta_graph)
  return meta_graph


def _variable_defs(meta_graph):
  """The VariableDefs of `meta_graph`'s variable collections."""
  for key, collection in meta_graph.collection_def.items():
    if key in VARIABLE_COLLECTIONS:
      for serialized in collection.bytes_list.value:
        yield variable_pb2.VariableDef.FromString(serialized)


def _node_name(tensor):
  """"^a", "a:1", "a" -> "a"."""
  return tensor.lstrip("^").split(":")[0]


def _share_variable_reads(meta_graph):
  """Makes every use of a variable read its snapshot, in place.

  Graph building in TF2 reads a resource variable anew at each use (each conv,
  each batch norm parameter), where TF1's ref variables had one `<var>/read`.
  Reads of one variable without control inputs are interchangeable within a
  run (none is ordered against an assignment), so each is replaced by the
  snapshot read that the variable's VariableDef names and every loader keeps;
  _trim then drops the unused reads, a sixth of the graph.
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


def _trim(meta_graph):
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


def _save_variables(graph, values, export_dir):
  """Writes `values` as the checkpoint `<export_dir>/variables/variables`."""
  variables = graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
  # Built after the graph was exported, so the saver stays out of the module.
  saver = tf.train.Saver(variables, sharded=True,
                         write_version=tf.train.SaverDef.V2)
  with tf.Session(graph=graph) as sess:
    # The values are fed to the initializers in one run, so the graph holds
    # no copy of them.
    sess.run([v.initializer for v in variables],
             {v.initializer.inputs[1]: values[v.op.name] for v in variables})
    saver.save(sess, os.path.join(export_dir, "variables", "variables"),
               write_meta_graph=False, write_state=False)


def write(cfg, iface, values, export_dir):
  """Writes a module of variant `cfg` with variable `values` to `export_dir`.

  Args:
    cfg: the VariantConfig.
    iface: the module's signatures.Interface (format "hub").
    values: {variable name: np.ndarray}, exactly the module's variables.
    export_dir: directory to create; must not exist yet.
  """
  layout = {name: tuple(value.shape) for name, value in values.items()}
  attachment = hub_protos.image_module_info_attachment(cfg.input_size,
                                                       cfg.input_size)
  os.makedirs(os.path.join(export_dir, "variables"))
  saved_model = saved_model_pb2.SavedModel(saved_model_schema_version=1)
  for i, tags in enumerate(signatures.tf1_tag_sets(iface)):
    with tf.Graph().as_default() as graph, _graph_mode_equality():
      signature_defs = build_graph(cfg, iface,
                                   training=tags == signatures.TRAIN_TAGS)
      _check_graph(graph, layout)
      graph.add_to_collection(hub_protos.ATTACHMENTS_COLLECTION, attachment)
      saved_model.meta_graphs.append(_meta_graph(graph, tags, signature_defs))
      if i == 0:  # All tag sets share the variables.
        _save_variables(graph, values, export_dir)
  with open(os.path.join(export_dir, "saved_model.pb"), "wb") as f:
    f.write(saved_model.SerializeToString(deterministic=True))
  with open(os.path.join(export_dir, hub_protos.MODULE_DEF_FILENAME),
            "wb") as f:
    f.write(hub_protos.module_def_bytes())

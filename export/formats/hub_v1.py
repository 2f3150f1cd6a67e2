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

A feature vector module's graphs are the classification module's without
the classifier, so `writer` builds each tag set's graph once for both kinds.
"""

import dataclasses
import os

import tensorflow.compat.v1 as tf
from tensorflow.core.protobuf import saved_model_pb2

from export.core import architecture
from export.core import signatures
from export.formats import graph_passes
from export.formats import hub_protos
from export.formats import network

# Collections that hub.Module (0.15) imports; any other one makes it refuse
# the module, so the writer checks for them rather than find out at load time.
SUPPORTED_COLLECTIONS = frozenset({
    tf.GraphKeys.GLOBAL_VARIABLES, tf.GraphKeys.TRAINABLE_VARIABLES,
    tf.GraphKeys.MODEL_VARIABLES, tf.GraphKeys.TABLE_INITIALIZERS,
    tf.GraphKeys.UPDATE_OPS, tf.GraphKeys.REGULARIZATION_LOSSES,
    tf.GraphKeys.ASSET_FILEPATHS, tf.GraphKeys.COND_CONTEXT,
    tf.GraphKeys.WHILE_CONTEXT, hub_protos.ATTACHMENTS_COLLECTION})

# Two tag sets' graphs of the last two shared networks (TF1 version 3 of
# V1 at one multiplier, say): a worker sent a config's sizes in turn reuses
# them.
_RECENT = network.RecentGraphs(kept=4)


def _zeros_initialized(getter, *args, **kwargs):
  # Variables get their values from the module's variables file: hub.Module
  # restores them (its init_from_checkpoint replaces every initializer) and
  # so does hub.load. A constant zero (one Const op, stored as a single value)
  # instead of Slim's random initializers keeps the graphs small and quick to
  # build; tf.zeros_initializer would add a Fill and two Consts per variable.
  kwargs["initializer"] = tf.constant_initializer(0.0)
  return getter(*args, **kwargs)


def build_graph(cfg, iface, training):
  """Builds one tag set's graph of a module in the default graph.

  Args:
    cfg: the VariantConfig.
    iface: the module's signatures.Interface.
    training: whether batch norm is in training mode (tags {"train"}).

  Returns:
    {name: tensor} of the signatures' inputs ("images", and
    "batch_norm_momentum" if the module takes it) and outputs ("features",
    and "logits" for a classification module), and under "end_points" the
    network's {Slim end point: tensor}.
  """
  images = tf.placeholder(tf.float32, network.image_shape(cfg, iface),
                          name=signatures.IMAGES_INPUT)
  tensors = {signatures.IMAGES_INPUT: images}
  if iface.batch_norm_momentum_input:
    momentum = tf.placeholder_with_default(
        tf.constant(signatures.DEFAULT_BATCH_NORM_MOMENTUM, tf.float32), [],
        name=signatures.BATCH_NORM_MOMENTUM_INPUT)
    tensors[signatures.BATCH_NORM_MOMENTUM_INPUT] = momentum
  else:
    momentum = None  # The architecture's training default.
  # Resource variables, as hub.create_module_spec made them.
  with tf.variable_scope("", use_resource=True,
                         custom_getter=_zeros_initialized):
    out = network.outputs(cfg, iface, images, training=training,
                          batch_norm_momentum=momentum)
  tensors["features"] = out.features
  if out.logits is not None:
    tensors["logits"] = out.logits
  tensors["end_points"] = out.end_points
  return tensors


def signature_defs(cfg, iface, tensors):
  """{signature name: SignatureDef} of a module of `iface` over the
  `build_graph` tensors."""
  info = tf.saved_model.utils.build_tensor_info
  end_points = signatures.end_point_outputs(
      cfg.architecture, tensors["end_points"], iface.num_classes)
  defs = {}
  for name, sig in signatures.tf1_signatures(iface).items():
    inputs = [signatures.IMAGES_INPUT]
    if sig.bn_hparams:
      inputs.append(signatures.BATCH_NORM_MOMENTUM_INPUT)
    outputs = {signatures.OUTPUT_KEY: tensors[sig.output]}
    if sig.end_points:
      outputs.update(end_points)
    defs[name] = tf.saved_model.signature_def_utils.build_signature_def(
        inputs={k: info(tensors[k]) for k in inputs},
        outputs={k: info(t) for k, t in outputs.items()})
  return defs


def _check_graph(graph, layout):
  unsupported = set(graph.get_all_collection_keys()) - SUPPORTED_COLLECTIONS
  if unsupported:
    raise RuntimeError(f"graph has collections hub.Module cannot import: "
                       f"{sorted(unsupported)}")
  network.check_variables(
      {v.op.name: tuple(v.shape.as_list())
       for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)}, layout)


def _classifier_scopes(cfg):
  """(head, classifier): name prefixes of the ops of the global pool, the
  classifier and its softmax, and of the classifier's alone (variables,
  quant ranges)."""
  scope = architecture.get(cfg.architecture).scope
  classifier = f"{scope}/{architecture.LOGITS_SCOPE}/"
  head = (f"{scope}/{architecture.LOGITS_SCOPE.split('/')[0]}/",
          f"{scope}/{architecture.PREDICTIONS_END_POINT}/")
  return head, classifier


def _meta_graph(cfg, graph, tags, defs, drop_classifier):
  """Exports `graph` as one tag set's MetaGraphDef, as hub 0.15 did.

  No saver is built into the graph: hub.Module restores variables with
  init_from_checkpoint and exports with a saver of its own, and TF's SavedModel
  loaders build one at load time when the MetaGraphDef has no saver_def. Save
  and restore ops for every variable would otherwise be most of the graph.

  With `drop_classifier`, `graph` is a classification graph and the result
  is the feature vector module's: the classifier's variables and ops are
  dropped, and the op list keeps what a graph built without them has (the
  ops outside the pooling-and-classifier head, and those of the head still
  used). It is byte for byte the meta graph of a graph built without the
  classifier (tests/test_tf1_modules.py), at a fraction of the cost.
  """
  # Default-valued attrs are stripped so that older TF versions, which do not
  # know attrs added since, can load the module.
  meta_graph = tf.train.export_meta_graph(graph=graph, strip_default_attrs=True)
  if not graph.get_collection(hub_protos.ATTACHMENTS_COLLECTION):
    # The config's own attachment: the writer's graphs, which other input
    # sizes share, carry none.
    meta_graph.collection_def[
        hub_protos.ATTACHMENTS_COLLECTION].bytes_list.value.append(
            hub_protos.image_module_info_attachment(cfg.input_size,
                                                    cfg.input_size))
  meta_graph.meta_info_def.tags.extend(sorted(tags))
  for name, signature_def in defs.items():
    meta_graph.signature_def[name].CopyFrom(signature_def)
  if drop_classifier:
    head, classifier = _classifier_scopes(cfg)
    op_names = {node.op for node in meta_graph.graph_def.node
                if not node.name.startswith(head)}
    graph_passes.drop_collection_entries(meta_graph, classifier)
  graph_passes.share_variable_reads(meta_graph)
  graph_passes.trim(meta_graph)
  if drop_classifier:
    graph_passes.keep_op_defs(
        meta_graph, op_names | {node.op for node in meta_graph.graph_def.node})
  return meta_graph


def _save_variables(values, export_dir):
  """Writes `values` as the checkpoint `<export_dir>/variables/variables`:
  the files tf.train.Saver writes for the module's variables (tested), with
  no graph or session."""
  names = sorted(values)
  tf.raw_ops.SaveV2(prefix=os.path.join(export_dir, "variables", "variables"),
                    tensor_names=names, shape_and_slices=[""] * len(names),
                    tensors=[values[name] for name in names])


def _layout(cfg, iface):
  return architecture.variable_layout(cfg.architecture, cfg.depth_multiplier,
                                      iface.num_classes,
                                      quantized=cfg.quantized)


class Writer:
  """Writes the modules whose `Interface.network` is one network:
  classification and feature vector modules alike, from one classification
  graph per tag set, built on first use (a feature vector module's graph is
  it without the classifier). `writer(cfg, network_iface, values)` makes
  one; `graph` gives those graphs to what converts them (TF.js)."""

  def __init__(self, cfg, network_iface, values):
    """Args:
      cfg: the VariantConfig.
      network_iface: the modules' signatures.Interface.network (format
        "hub").
      values: {variable name: np.ndarray}, at least each written module's
        variables.
    """
    self.cfg, self.values = cfg, values
    self._build_iface = dataclasses.replace(network_iface,
                                            kind="classification")
    self._graphs = {}  # training -> (graph, build_graph tensors)

  def graph(self, training):
    """(tf.Graph, build_graph tensors) of the tag set with `training`: the
    same graph for every config with the same `signatures.graph_key` (they
    differ in the module attachment, added to each meta graph)."""
    if training not in self._graphs:
      key = signatures.graph_key(self.cfg, self._build_iface)
      self._graphs[training] = _RECENT.get(
          key and (key, training), lambda: self._build(training))
    return self._graphs[training]

  def _build(self, training):
    cfg = self.cfg
    with tf.Graph().as_default() as graph, \
        graph_passes.graph_mode_equality():
      tensors = build_graph(cfg, self._build_iface, training)
      _check_graph(graph, _layout(cfg, self._build_iface))
    return graph, tensors

  def __call__(self, iface, export_dir):
    """Writes the module of `iface` into `export_dir`."""
    cfg, values = self.cfg, self.values
    layout = _layout(cfg, iface)
    missing = sorted(set(layout) - set(values))
    if missing:
      raise KeyError(f"no values for {missing[:3]} ({len(missing)} missing)")
    os.makedirs(os.path.join(export_dir, "variables"))
    saved_model = saved_model_pb2.SavedModel(saved_model_schema_version=1)
    for tags in signatures.tf1_tag_sets(iface):
      graph, tensors = self.graph(training=tags == signatures.TRAIN_TAGS)
      with graph.as_default(), graph_passes.graph_mode_equality():
        saved_model.meta_graphs.append(_meta_graph(
            cfg, graph, tags, signature_defs(cfg, iface, tensors),
            drop_classifier=iface.num_classes is None))
    # All tag sets share the variables.
    _save_variables({name: values[name] for name in layout}, export_dir)
    with open(os.path.join(export_dir, "saved_model.pb"), "wb") as f:
      f.write(saved_model.SerializeToString(deterministic=True))
    with open(os.path.join(export_dir, hub_protos.MODULE_DEF_FILENAME),
              "wb") as f:
      f.write(hub_protos.module_def_bytes())


writer = Writer

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

import os

import tensorflow.compat.v1 as tf
from tensorflow.core.protobuf import saved_model_pb2

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
    {signature name: SignatureDef}.
  """
  images = tf.placeholder(tf.float32, network.image_shape(cfg, iface),
                          name=signatures.IMAGES_INPUT)
  inputs = {signatures.IMAGES_INPUT: images}
  net_input = network.sized(cfg, iface, images)  # hub.Module may feed any.
  if iface.batch_norm_momentum_input:
    momentum = tf.placeholder_with_default(
        tf.constant(signatures.DEFAULT_BATCH_NORM_MOMENTUM, tf.float32), [],
        name=signatures.BATCH_NORM_MOMENTUM_INPUT)
  else:
    momentum = None  # The architecture's training default.
  # Resource variables, as hub.create_module_spec made them.
  with tf.variable_scope("", use_resource=True,
                         custom_getter=_zeros_initialized):
    out = network.outputs(cfg, iface, net_input, training=training,
                          batch_norm_momentum=momentum)
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
  network.check_variables(
      {v.op.name: tuple(v.shape.as_list())
       for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)}, layout)


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
  graph_passes.share_variable_reads(meta_graph)
  graph_passes.trim(meta_graph)
  return meta_graph


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
    with tf.Graph().as_default() as graph, graph_passes.graph_mode_equality():
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


def writer(cfg, network_iface, values):
  """`write` for the modules with `network_iface` (`Interface.network`):
  TF1 graphs are cheap to build, so each module builds its own."""
  del network_iface
  return lambda iface, export_dir: write(cfg, iface, values, export_dir)

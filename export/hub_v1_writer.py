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
* the variables, saved once (all tag sets share them);
* `tfhub_module.pb`, a ModuleDef with format FORMAT_V3.
"""

import contextlib

import tensorflow.compat.v1 as tf

from export import architecture
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


def _zeros_initialized(getter, *args, **kwargs):
  # Variables get their values from the module's variables file: hub.Module
  # restores them (its init_from_checkpoint replaces every initializer) and
  # so does hub.load. Zeros instead of Slim's random initializers keep the
  # graphs small and quick to build (one op per variable instead of five).
  kwargs["initializer"] = tf.zeros_initializer()
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


def build_graph(cfg, module, training):
  """Builds one tag set's graph of `module` in the default graph.

  Returns:
    {signature name: SignatureDef}.
  """
  size = None if module.variable_input_size else cfg.input_size
  images = tf.placeholder(tf.float32, [None, size, size, 3],
                          name=signatures.IMAGES_INPUT)
  inputs = {signatures.IMAGES_INPUT: images}
  net_input = images
  if size is not None:
    # hub.Module may feed a tensor of unknown shape; a fixed-size module
    # refuses other sizes at run time instead of computing on them.
    net_input = tf.ensure_shape(images, [None, size, size, 3])
  if module.configurable_batch_norm_momentum:
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
        num_classes=(architecture.NUM_CLASSES
                     if module.kind == "classification" else None),
        is_training=training, batch_norm_decay=momentum,
        quantized_input_bound=(signatures.quantized_input_bound(module)
                               if module.quantized else None))
  outputs = {"logits": out.logits, "features": out.features}
  info = tf.saved_model.utils.build_tensor_info
  defs = {}
  for name, sig in signatures.tf1_signatures(module).items():
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


def write(cfg, module, values, export_dir):
  """Writes `module` of variant `cfg` with variable `values` to `export_dir`.

  Args:
    cfg: the VariantConfig.
    module: the config's Module to write (format "hub").
    values: {variable name: np.ndarray}, exactly the module's variables.
    export_dir: directory to create; must not exist yet.
  """
  layout = {name: tuple(value.shape) for name, value in values.items()}
  attachment = hub_protos.image_module_info_attachment(cfg.input_size,
                                                       cfg.input_size)
  builder = tf.saved_model.Builder(export_dir)
  tag_sets = signatures.tf1_tag_sets(module)
  for i, tags in enumerate(tag_sets):
    with tf.Graph().as_default() as graph, _graph_mode_equality():
      signature_defs = build_graph(cfg, module,
                                   training=tags == signatures.TRAIN_TAGS)
      _check_graph(graph, layout)
      graph.add_to_collection(hub_protos.ATTACHMENTS_COLLECTION, attachment)
      variables = graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
      saver = tf.train.Saver(variables, sharded=True,
                             write_version=tf.train.SaverDef.V2)
      # Hub strips default-valued attrs so older TF versions can load it.
      common_args = dict(tags=sorted(tags), signature_def_map=signature_defs,
                         strip_default_attrs=True, saver=saver)
      if i == 0:
        with tf.Session(graph=graph) as sess:
          # The values are fed to the initializers in one run, so the graph
          # holds no copy of them.
          sess.run([v.initializer for v in variables],
                   {v.initializer.inputs[1]: values[v.op.name]
                    for v in variables})
          builder.add_meta_graph_and_variables(sess, **common_args)
      else:
        builder.add_meta_graph(**common_args)
  builder.save()
  with tf.gfile.GFile(f"{export_dir}/{hub_protos.MODULE_DEF_FILENAME}",
                      "wb") as f:
    f.write(hub_protos.module_def_bytes())

"""Writes a module as a TF2 SavedModel, for `hub.KerasLayer` and `hub.load`.

It follows TF Hub's reusable SavedModel API: the root object has

* `__call__(images, training=False, batch_norm_momentum=0.99,
  return_endpoints=False)`, traced for `training` True and False, on images
  of the module's size (any size where the card says other sizes are
  possible); with `return_endpoints=True` it returns a dict: `default` (the
  output) and the network's end points under the TF1 modules' keys (e.g.
  `MobilenetV2/layer_7/output`), the undocumented argument TF Hub's
  TF-Slim SavedModels had (tensorflow/hub#453; public code calls
  mobilenet_v2_140_224/feature_vector/4 with it);
* `variables`, `trainable_variables` (the batch norm moving statistics are not
  trainable) and `regularization_losses` (zero-argument functions, one per L2
  regularized kernel, as in the Slim arg scope);
* from version 5, a `serving_default` SignatureDef: `inputs` (images in
  [0, 1]) -> `output_0` (logits or features), inference mode.

Versions 4 and 5 of a module are saved from one traced network (`writer`),
and so are the other input sizes' modules where they take any size (V1).

The network is the same TF-Slim graph as in the TF1 modules, built inside the
traced function; a custom getter on its variable scope hands Slim the module's
own `tf.Variable`s, created once from the checkpoint values.
"""

import tensorflow as tf

from export import nets
from export.core import signatures
from export.formats import network
from export.formats import reproducible

_NON_TRAINABLE = ("moving_mean", "moving_variance")


class _SlimVariables:
  """Custom getter giving Slim variables made from checkpoint values.

  The first trace creates each variable (outside the function graph, via
  init_scope); later traces get the same one.
  """

  def __init__(self, values):
    self.values = values
    self.variables = {}

  def __call__(self, getter, name, *args, **kwargs):
    del getter, args, kwargs  # Every variable comes from the checkpoint values.
    if name not in self.variables:
      if name not in self.values:
        raise KeyError(f"graph asks for {name}, which the module does not "
                       "hold")
      with tf.init_scope():
        self.variables[name] = tf.Variable(
            self.values[name], name=name,
            trainable=name.rsplit("/", 1)[-1] not in _NON_TRAINABLE)
    return self.variables[name]


def _build_call(cfg, iface, slim_variables):
  """Returns (`__call__`, the network's inference trace: a concrete function
  of (images, batch_norm_momentum) -> {"default": output, end points...})."""
  num_classes = iface.num_classes

  # Autograph would rewrite all of Slim on every trace: slow, and Python
  # control flow here only walks the layer tables.
  @tf.function(autograph=False)
  def net(images, training, batch_norm_momentum):
    """{"default": the module's output, "<scope>/<end point>": ...}."""
    with tf.compat.v1.variable_scope("", custom_getter=slim_variables):
      # The traced signature already fixes the size where it is fixed.
      out = network.outputs(cfg, iface, images, training=training,
                            batch_norm_momentum=batch_norm_momentum,
                            # Losses are functions of their own (below);
                            # inside the call they would be dead code.
                            regularize=False)
    outputs = signatures.end_point_outputs(cfg.architecture, out.end_points,
                                           num_classes)
    outputs[signatures.OUTPUT_KEY] = out.logits if num_classes else out.features
    return outputs

  images = tf.TensorSpec(network.image_shape(cfg, iface), tf.float32)
  momentum = tf.TensorSpec([], tf.float32)
  # The network is traced once per `training` (here: a tf.function called
  # from another's trace would be traced again for each), and each
  # `return_endpoints` variant of `__call__` calls that trace.
  traced = {training: net.get_concrete_function(images, training, momentum)
            for training in (False, True)}

  @tf.function(autograph=False)
  def call(images, training=False,
           batch_norm_momentum=signatures.DEFAULT_BATCH_NORM_MOMENTUM,
           return_endpoints=False):
    outputs = traced[training](images, batch_norm_momentum)
    return outputs if return_endpoints else outputs[signatures.OUTPUT_KEY]

  for training in (False, True):
    for return_endpoints in (False, True):
      call.get_concrete_function(images, training, momentum, return_endpoints)
  return call, traced[False]


def _loss_function(regularizer, variable):
  # No autograph: converting each lambda costs more than tracing it.
  return tf.function(lambda: regularizer(variable), input_signature=[],
                     autograph=False)


def _serving_function(cfg, iface, inference):
  """The `serving_default` signature: the traced network in inference mode
  (`inference`, as `__call__` calls it) with the default momentum."""
  @tf.function(autograph=False, input_signature=[tf.TensorSpec(
      network.image_shape(cfg, iface), tf.float32,
      name=signatures.SERVING_INPUT)])
  def serve(inputs):
    outputs = inference(inputs,
                        tf.constant(signatures.DEFAULT_BATCH_NORM_MOMENTUM))
    return {signatures.SERVING_OUTPUT: outputs[signatures.OUTPUT_KEY]}
  return serve


# The traces of the last two shared networks (V1's TF2 classification and
# feature vector at one multiplier): a worker sent the other input sizes
# saves them again with their values.
_RECENT = network.RecentGraphs(kept=2)


def _traced(cfg, network_iface, values):
  """(root object to save, `serving_default` function, {name: tf.Variable})
  of the network, its variables made from `values`."""
  slim_variables = _SlimVariables(values)
  call, inference = _build_call(cfg, network_iface, slim_variables)
  variables = slim_variables.variables
  ordered = [variables[name] for name in values]

  root = tf.train.Checkpoint()
  root.__call__ = call
  root.variables = ordered
  root.trainable_variables = [v for v in ordered if v.trainable]
  regularizers = nets.regularized_kernels(cfg.architecture,
                                          cfg.depth_multiplier,
                                          network_iface.num_classes)
  root.regularization_losses = [
      _loss_function(regularizer, variables[name])
      for name, regularizer in regularizers.items()]
  return root, _serving_function(cfg, network_iface, inference), variables


def writer(cfg, network_iface, values):
  """Traces the network of modules with `network_iface`
  (`Interface.network`) once (or takes the trace of another config with
  the same `signatures.graph_key`, its variables given `values`); returns
  `write(iface, export_dir)`, which saves a module of those with it.

  Args:
    cfg: the VariantConfig.
    network_iface: the modules' signatures.Interface.network (format
      "saved_model_2").
    values: {variable name: np.ndarray}, exactly the modules' variables.
  """
  root, serve, variables = _RECENT.get(
      signatures.graph_key(cfg, network_iface),
      lambda: _traced(cfg, network_iface, values))
  network.check_variables({n: tuple(v.shape) for n, v in variables.items()},
                          {n: tuple(v.shape) for n, v in values.items()})
  for name, variable in variables.items():
    variable.assign(values[name])

  def write(iface, export_dir):
    if iface.serving_signature:
      # Loaders of signatures (TF Serving, saved_model_cli, Keras 3's
      # TFSMLayer, the TFLite converter) restore variables with the native
      # save/restore functions, so they are kept.
      tf.saved_model.save(
          root, export_dir,
          signatures={signatures.SERVING_SIGNATURE: serve})
    else:
      # Without signatures the only way to use the module is
      # tf.saved_model.load (hub.load, hub.KerasLayer), which restores
      # variables through the object graph: the native save/restore
      # functions would be a third of the file.
      tf.saved_model.save(root, export_dir, signatures={},
                          options=tf.saved_model.SaveOptions(
                              experimental_skip_saver=True))
    # The same bytes whatever the process did before (function uids).
    reproducible.canonicalize(export_dir)
    # TensorFlow writes an empty assets/ (these modules have no assets).
    # Empty directories do not survive a Bazel remote cache (it stores a
    # tree's files), so a module has none: loaders need no assets/.
    reproducible.remove_empty_directories(export_dir)
  return write

"""Converts TF1 modules to TF.js graph models, as tfhub.dev published them.

tfhub.dev's TF.js MobileNets (`google/tfjs-model/imagenet/...`) were made by
the TF.js converter's TF Hub path (`convert_tf_hub_module_v1`): it applies
the TF1 module with `hub.Module` to a placeholder named after the `default`
signature's input (`images`), freezes the session's graph
(`convert_variables_to_constants`), and optimizes and writes it. So every
node is under `module_apply_default/` (hub.Module's name scope for applying
the `default` signature) and the weights are named after the module's
variables, `module/<variable>`.

hub.Module is gone from tensorflow-hub 0.16, so `frozen_graph` builds that
frozen graph from the parent module's inference graph directly (the node
names are the contract; tests/testdata/published_tfjs), and the converter
(`tensorflowjs` 4.22.0) does the rest: its grappler passes, batch norm
folding (vectorized: `tfjs_optimize`, the same bits in a tenth of the
time), op check, 4 MiB weight shards. Its `model.json` is then rewritten
canonically (sorted keys): the converter's attribute order varies per run.
"""

import json
import os

import tensorflow.compat.v1 as tf

from export.core import signatures
from export.formats import tfjs_converter
from export.formats import tfjs_optimize

MODEL_FILE = "model.json"
# hub.Module's scopes: where it applies signature `default`, and where it
# keeps the module's variables.
APPLY_SCOPE = "module_apply_default"
STATE_SCOPE = "module"
SIGNATURE = "default"
SHARD_BYTES = 4 * 1024 * 1024


def _node_name(tensor):
  return tensor.lstrip("^").split(":")[0]


def frozen_graph(graph_def, input_name, output_name, values):
  """The graph the converter's TF Hub path freezes, built directly.

  Args:
    graph_def: the TF1 module's inference graph.
    input_name: its `images` placeholder's name.
    output_name: the name of the `default` signature's output op.
    values: {variable name: np.ndarray}.

  Returns:
    A GraphDef: the placeholder `images` (the converter names it after the
    signature's input), the variables as constants `module/<name>`, and the
    module's ops needed for the output under `module_apply_default/`, with
    each variable read an Identity of its constant (as
    convert_variables_to_constants leaves them).
  """
  needed = tf.graph_util.extract_sub_graph(graph_def, [output_name])
  renamed = {}
  for node in needed.node:
    if node.name == input_name:
      renamed[node.name] = signatures.IMAGES_INPUT
    elif node.op == "VarHandleOp":
      renamed[node.name] = f"{STATE_SCOPE}/{node.name}"
    else:
      renamed[node.name] = f"{APPLY_SCOPE}/{node.name}"
  frozen = tf.GraphDef()
  frozen.versions.CopyFrom(graph_def.versions)
  for node in needed.node:
    new = frozen.node.add()
    new.name = renamed[node.name]
    if node.op == "VarHandleOp":
      value = values[node.name]
      new.op = "Const"
      new.attr["dtype"].CopyFrom(node.attr["dtype"])
      new.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
      continue
    new.op = "Identity" if node.op == "ReadVariableOp" else node.op
    for key, attr in node.attr.items():
      if key == "_class":
        continue  # Colocation with nodes renamed or gone.
      if node.op == "ReadVariableOp" and key == "dtype":
        key = "T"
      new.attr[key].CopyFrom(attr)
    for tensor in node.input:
      name = _node_name(tensor)
      new.input.append(tensor.replace(name, renamed[name], 1))
  return frozen


def convert(graph_def, input_name, output_name, values, output_dir):
  """Writes the TF.js model of a TF1 module's `default` signature (its
  inference graph `graph_def`, input and output op names) into
  `output_dir`: model.json and group1-shard<i>of<N>.bin."""
  converter = tfjs_converter.load()
  from google.protobuf import json_format  # pylint: disable=g-import-not-at-top
  with tf.Graph().as_default() as graph:
    tf.import_graph_def(frozen_graph(graph_def, input_name, output_name,
                                     values), name="")
  inputs = [graph.get_tensor_by_name(f"{signatures.IMAGES_INPUT}:0")]
  outputs = [graph.get_tensor_by_name(f"{APPLY_SCOPE}/{output_name}:0")]
  signature = converter._build_signature_def(graph, inputs, outputs)  # pylint: disable=protected-access
  optimized = tfjs_optimize.optimize_graph(converter, graph, signature)
  weights = converter.extract_weights(optimized)
  os.makedirs(output_dir)
  model_path = os.path.join(output_dir, MODEL_FILE)
  converter.write_artifacts(json_format.MessageToDict(optimized), weights,
                            model_path, tf.__version__, signature,
                            weight_shard_size_bytes=SHARD_BYTES)
  with open(model_path, encoding="utf-8") as f:
    model = json.load(f)
  with open(model_path, "w", encoding="utf-8") as f:
    json.dump(model, f, sort_keys=True)


def converter(cfg, tf1_writer):
  """Returns `write(iface, export_dir)` for the TF.js models of the modules
  `tf1_writer` (a hub_v1.Writer) writes, from its inference graph."""
  del cfg

  def write(iface, export_dir):
    graph, tensors = tf1_writer.graph(training=False)
    output = signatures.tf1_signatures(iface)[SIGNATURE].output
    convert(graph.as_graph_def(), tensors[signatures.IMAGES_INPUT].op.name,
            tensors[output].op.name, tf1_writer.values, export_dir)
  return write

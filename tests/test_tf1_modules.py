"""TF1 Hub format modules of the float seed configs on TF 2.21."""

import os

import numpy as np
import pytest

from tensorflow.core.framework import variable_pb2

from export.pipeline import exporter
from export.formats import hub_protos
from tests import card_facts
from tests.conftest import images

TOLERANCE = 1e-5


def _tf1_modules(cfg):
  return [m for m in cfg.modules if m.is_tf1_hub]


def _cases():
  from export.core import config
  return [(name, m.handle) for name in card_facts.FLOAT_SEED_CONFIGS
          for m in _tf1_modules(config.load(name))]


CASES = _cases()


@pytest.mark.parametrize("name,handle", CASES)
def test_hub_load_matches_slim_graph(variant, name, handle):
  import tensorflow as tf
  import tensorflow_hub as hub
  v = variant(name)
  module = v.cfg.module(handle)
  loaded = hub.load(v.modules[handle])
  assert set(loaded.signatures) == card_facts.tf1_signatures(module.kind,
                                                             module.version)
  batch = images(v.cfg.input_size)
  features, logits = v.reference(batch)
  outputs = {}
  for sig, fn in loaded.signatures.items():
    # TF2 signatures of a TF1 model need every input, defaults included.
    extra = ({"batch_norm_momentum": tf.constant(0.99)}
             if sig.endswith(card_facts.BN) else {})
    outputs[sig] = fn(images=tf.constant(batch), **extra)["default"].numpy()
  expected = {"image_feature_vector": features, "image_classification": logits,
              "default": logits if module.kind == "classification"
                         else features}
  for sig, out in outputs.items():
    want = expected[sig.replace(card_facts.BN, "")]
    assert out.shape == want.shape
    np.testing.assert_allclose(out, want, atol=TOLERANCE, rtol=0)
  assert outputs["default"].shape == (
      3, card_facts.output_width(v.cfg, module.kind))


@pytest.mark.parametrize("name,handle", CASES)
def test_keras_layer_matches_slim_graph(variant, name, handle):
  import tensorflow_hub as hub
  v = variant(name)
  layer = hub.KerasLayer(v.modules[handle], signature="default",
                         output_key="default")
  batch = images(v.cfg.input_size, seed=1)
  features, logits = v.reference(batch)
  expected = (logits if v.cfg.module(handle).kind == "classification"
              else features)
  np.testing.assert_allclose(layer(batch).numpy(), expected, atol=TOLERANCE,
                             rtol=0)


@pytest.mark.parametrize("name,handle", CASES)
def test_input_size_fixed_or_variable_as_the_card_says(variant, name, handle):
  import tensorflow as tf
  import tensorflow_hub as hub
  v = variant(name)
  module = v.cfg.module(handle)
  fn = hub.load(v.modules[handle]).signatures["default"]
  size = v.cfg.input_size
  shape = fn.structured_input_signature[1]["images"].shape.as_list()
  if card_facts.variable_input_size(v.cfg.architecture, module.version):
    assert shape == [None, None, None, 3]
    batch = images(size + 32, batch=2)
    out = fn(images=tf.constant(batch))["default"].numpy()
    features, logits = v.reference(batch)
    np.testing.assert_allclose(
        out, logits if module.kind == "classification" else features,
        atol=TOLERANCE, rtol=0)
  else:
    assert shape == [None, size, size, 3]


def _meta_graphs(module_dir):
  from tensorflow.core.protobuf import saved_model_pb2
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(module_dir, "saved_model.pb"), "rb") as f:
    proto.ParseFromString(f.read())
  return {frozenset(m.meta_info_def.tags): m for m in proto.meta_graphs}


@pytest.mark.parametrize("name,version", [("v2_050_96", 3),
                                          ("v1_025_128_quant", 1)])
def test_feature_vector_graphs_are_built_without_the_classifier(variant, name,
                                                                version):
  """A feature vector module's graphs are written from its classification
  module's (export.formats.hub_v1.writer); they must be byte for byte those
  of a graph built without the classifier."""
  import tensorflow.compat.v1 as tf
  from export.core import signatures
  from export.formats import graph_passes
  from export.formats import hub_v1
  v = variant(name)
  module = next(m for m in v.cfg.modules
                if m.kind == "feature_vector" and m.version == version)
  iface = signatures.interface(module)
  written = _meta_graphs(v.modules[module.handle])
  assert set(written) == set(map(frozenset,
                                 signatures.tf1_tag_sets(iface)))
  for tags in written:
    with tf.Graph().as_default() as graph, graph_passes.graph_mode_equality():
      tensors = hub_v1.build_graph(v.cfg, iface,
                                   training=tags == signatures.TRAIN_TAGS)
      assert "logits" not in tensors
      graph.add_to_collection(
          hub_protos.ATTACHMENTS_COLLECTION,
          hub_protos.image_module_info_attachment(v.cfg.input_size,
                                                  v.cfg.input_size))
      direct = hub_v1._meta_graph(  # pylint: disable=protected-access
          v.cfg, graph, tags, hub_v1.signature_defs(v.cfg, iface, tensors),
          drop_classifier=False)
    assert written[tags].SerializeToString(deterministic=True) == \
        direct.SerializeToString(deterministic=True), (module.handle, tags)


@pytest.mark.parametrize("name,handle", CASES)
def test_hub_format_files(variant, name, handle):
  """What tensorflow-hub 0.15's loader reads, checked on the files."""
  v = variant(name)
  module = v.cfg.module(handle)
  module_dir = v.modules[handle]
  with open(os.path.join(module_dir, "tfhub_module.pb"), "rb") as f:
    module_def = hub_protos.ModuleDef.FromString(f.read())
  assert module_def.format == hub_protos.FORMAT_V3
  metas = _meta_graphs(module_dir)
  assert set(metas) == {frozenset(), frozenset({"train"})}
  for tags, meta in metas.items():
    assert set(meta.signature_def) == card_facts.tf1_signatures(
        module.kind, module.version)
    attachments = meta.collection_def[
        hub_protos.ATTACHMENTS_COLLECTION].bytes_list.value
    assert len(attachments) == 1
    attachment = hub_protos.ModuleAttachment.FromString(attachments[0])
    assert attachment.key == hub_protos.IMAGE_MODULE_INFO_KEY
    info = hub_protos.ImageModuleInfo.FromString(attachment.value)
    size = v.cfg.input_size
    assert (info.default_image_size.height,
            info.default_image_size.width) == (size, size)
    assert ("update_ops" in meta.collection_def) == (tags == {"train"})
    # As hub 0.15 wrote them: no saver (loaders bring their own), and none
    # of the ops or attrs TF adds as a side effect of building.
    assert not meta.HasField("saver_def")
    nodes = meta.graph_def.node
    assert not {n.op for n in nodes} & {"SaveV2", "RestoreV2",
                                        "VarIsInitializedOp"}
    assert not any("_output_shapes" in n.attr for n in nodes)
    # Every use reads a variable through its snapshot, as TF1's `<var>/read`:
    # one ReadVariableOp per variable, the one its VariableDef names.
    snapshots = set()
    for serialized in meta.collection_def["variables"].bytes_list.value:
      variable_def = variable_pb2.VariableDef.FromString(serialized)
      snapshots.add(variable_def.snapshot_name.split(":")[0])
    reads = {n.name for n in nodes if n.op == "ReadVariableOp"}
    assert reads == snapshots
    assert len(snapshots) == len(exporter.module_layout(v.cfg, module))
    if module.version == 3:
      sig = meta.signature_def["image_feature_vector" + card_facts.BN]
      assert set(sig.inputs) == {"images", "batch_norm_momentum"}


def test_tf1_saved_model_loader_restores_the_variables(variant):
  """TF1's loader builds a saver for a meta graph that has none."""
  import tensorflow as tf
  v = variant("v1_050_160")
  module = v.cfg.module("google/imagenet/mobilenet_v1_050_160/"
                        "classification/1")
  batch = images(v.cfg.input_size, seed=2)
  with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
    meta = tf.compat.v1.saved_model.loader.load(sess, [],
                                                v.modules[module.handle])
    sig = meta.signature_def["default"]
    out = sess.run(sig.outputs["default"].name,
                   {sig.inputs["images"].name: batch})
  np.testing.assert_allclose(out, v.reference(batch)[1], atol=TOLERANCE,
                             rtol=0)


def test_batch_norm_momentum_default_is_0_99(v1):
  import tensorflow as tf
  meta = _meta_graphs(v1.module("feature_vector", 3))[frozenset({"train"})]
  node = next(n for n in meta.graph_def.node
              if n.name == "batch_norm_momentum")
  assert node.op == "PlaceholderWithDefault"
  default = next(n for n in meta.graph_def.node if n.name == node.input[0])
  assert tf.make_ndarray(default.attr["value"].tensor) == np.float32(0.99)


def test_seed_000_test_module_is_exported_under_its_own_handle(variant):
  v = variant("v1_050_128")
  test_module = "google/image/imagenet/mobilenet_v1_050_128/classification/1"
  assert os.path.isfile(os.path.join(v.modules[test_module],
                                     "tfhub_module.pb"))

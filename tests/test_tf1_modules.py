"""TF1 Hub format modules of v1_050_160 on TF 2.21: hub.load and KerasLayer."""

import os

import numpy as np
import pytest

from export import hub_protos
from tests.conftest import handle, images

TOLERANCE = 1e-5

CASES = [("classification", 1), ("classification", 3),
         ("feature_vector", 1), ("feature_vector", 3)]
SIGNATURES = {
    ("classification", 1): {"default", "image_classification",
                            "image_feature_vector"},
    ("classification", 3): {"default", "image_classification",
                            "image_feature_vector",
                            "image_classification_with_bn_hparams",
                            "image_feature_vector_with_bn_hparams"},
    ("feature_vector", 1): {"default", "image_feature_vector"},
    ("feature_vector", 3): {"default", "image_feature_vector",
                            "image_feature_vector_with_bn_hparams"},
}


@pytest.mark.parametrize("kind,version", CASES)
def test_hub_load_matches_slim_graph(exported, slim_reference, kind, version):
  import tensorflow as tf
  import tensorflow_hub as hub
  module = hub.load(exported[handle(kind, version)])
  assert set(module.signatures) == SIGNATURES[kind, version]
  batch = images(160)
  features, *logits = slim_reference(batch, with_logits=True)
  outputs = {}
  for name, fn in module.signatures.items():
    # TF2 signatures of a TF1 model need every input, defaults included.
    extra = ({"batch_norm_momentum": tf.constant(0.99)}
             if name.endswith("_with_bn_hparams") else {})
    outputs[name] = fn(images=tf.constant(batch), **extra)["default"].numpy()
  for name, out in outputs.items():
    if name.endswith("_with_bn_hparams"):
      np.testing.assert_array_equal(
          out, outputs[name[:-len("_with_bn_hparams")]])
  np.testing.assert_allclose(outputs["image_feature_vector"], features,
                             atol=TOLERANCE, rtol=0)
  assert outputs["image_feature_vector"].shape == (3, 512)
  if kind == "classification":
    assert outputs["default"].shape == (3, 1001)
    np.testing.assert_allclose(outputs["default"], logits[0], atol=TOLERANCE,
                               rtol=0)
    np.testing.assert_allclose(outputs["image_classification"], logits[0],
                               atol=TOLERANCE, rtol=0)
  else:
    np.testing.assert_allclose(outputs["default"], features, atol=TOLERANCE,
                               rtol=0)


@pytest.mark.parametrize("kind,version", CASES)
def test_keras_layer_matches_slim_graph(exported, slim_reference, kind,
                                        version):
  import tensorflow_hub as hub
  layer = hub.KerasLayer(exported[handle(kind, version)],
                         signature="default", output_key="default")
  batch = images(160, seed=1)
  features, *logits = slim_reference(batch, with_logits=True)
  expected = logits[0] if kind == "classification" else features
  out = layer(batch).numpy()
  assert out.shape == (3, 1001 if kind == "classification" else 512)
  np.testing.assert_allclose(out, expected, atol=TOLERANCE, rtol=0)


def test_version_1_fixes_input_size_version_3_does_not(exported,
                                                        slim_reference):
  import tensorflow as tf
  import tensorflow_hub as hub
  v1 = hub.load(exported[handle("feature_vector", 1)]).signatures["default"]
  v3 = hub.load(exported[handle("feature_vector", 3)]).signatures["default"]
  assert v1.structured_input_signature[1]["images"].shape.as_list() == [
      None, 160, 160, 3]
  assert v3.structured_input_signature[1]["images"].shape.as_list() == [
      None, None, None, 3]
  batch = images(128, batch=2)
  out = v3(images=tf.constant(batch))["default"].numpy()
  np.testing.assert_allclose(out, slim_reference(batch, False)[0],
                             atol=TOLERANCE, rtol=0)


def _meta_graphs(module_dir):
  from tensorflow.core.protobuf import saved_model_pb2
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(module_dir, "saved_model.pb"), "rb") as f:
    proto.ParseFromString(f.read())
  return {frozenset(m.meta_info_def.tags): m for m in proto.meta_graphs}


@pytest.mark.parametrize("kind,version", CASES)
def test_hub_format_files(exported, kind, version):
  """What tensorflow-hub 0.15's loader reads, checked on the files."""
  module_dir = exported[handle(kind, version)]
  with open(os.path.join(module_dir, "tfhub_module.pb"), "rb") as f:
    module_def = hub_protos.ModuleDef.FromString(f.read())
  assert module_def.format == hub_protos.FORMAT_V3
  metas = _meta_graphs(module_dir)
  assert set(metas) == {frozenset(), frozenset({"train"})}
  for tags, meta in metas.items():
    assert set(meta.signature_def) == SIGNATURES[kind, version]
    attachments = meta.collection_def[
        hub_protos.ATTACHMENTS_COLLECTION].bytes_list.value
    assert len(attachments) == 1
    attachment = hub_protos.ModuleAttachment.FromString(attachments[0])
    assert attachment.key == hub_protos.IMAGE_MODULE_INFO_KEY
    info = hub_protos.ImageModuleInfo.FromString(attachment.value)
    assert (info.default_image_size.height,
            info.default_image_size.width) == (160, 160)
    has_updates = "update_ops" in meta.collection_def
    assert has_updates == (tags == {"train"})
    if version == 3:
      sig = meta.signature_def[f"image_feature_vector_with_bn_hparams"]
      assert set(sig.inputs) == {"images", "batch_norm_momentum"}


def test_batch_norm_momentum_default_is_0_99(exported):
  import tensorflow as tf
  meta = _meta_graphs(exported[handle("feature_vector", 3)])[
      frozenset({"train"})]
  node = next(n for n in meta.graph_def.node
              if n.name == "batch_norm_momentum")
  assert node.op == "PlaceholderWithDefault"
  default = next(n for n in meta.graph_def.node if n.name == node.input[0])
  assert tf.make_ndarray(default.attr["value"].tensor) == np.float32(0.99)

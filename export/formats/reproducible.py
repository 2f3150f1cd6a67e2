"""Makes a TF2 SavedModel's bytes depend on its content only.

`tf.saved_model.save` names each traced function `<base>_<uid>`, uid a
counter of the process (`__inference_net_9793`), and writes a
`fingerprint.pb` with a random `uuid`: two exports of the same module in
two processes, or after other work in one process, differ in those bytes
alone. `canonicalize(export_dir)` renames every function of the graph
library to `<base>_<rank>`, the rank a function's place in the order its
base's functions were traced (see `canonical_names`), renames captured
inputs (named by tensor uids) by rank, rewrites every
reference (call ops' attributes, gradients, the object graph's concrete
functions), stores the library sorted by name, and recomputes
`fingerprint.pb` (`_write_fingerprint`).
"""

import hashlib
import os
import re

from tensorflow.core.protobuf import fingerprint_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.saved_model.pywrap_saved_model import fingerprinting

SAVED_MODEL_FILE = "saved_model.pb"
FINGERPRINT_FILE = "fingerprint.pb"
_UID = re.compile(r"_\d+$")


def base_name(name):
  """A traced function's name without the process's uid suffix."""
  return _UID.sub("", name)


def _func_attrs(attrs):
  """The NameAttrList values (function references) of an attr map."""
  for value in attrs.values():
    if value.HasField("func"):
      yield value.func
    yield from value.list.func


def _node_defs(meta_graph):
  yield from meta_graph.graph_def.node
  for function in meta_graph.graph_def.library.function:
    yield from function.node_def


def _uid(name):
  match = _UID.search(name)
  return int(match.group()[1:]) if match else -1


def canonical_names(meta_graph):
  """{traced name: canonical name} of a meta graph's function library:
  `<base>_<rank>`, rank the place of the function's uid among those of its
  base (the order TensorFlow traced them in, which the code fixes; the
  uids themselves depend on what the process did before)."""
  mapping, counts = {}, {}
  names = sorted((f.signature.name for f in
                  meta_graph.graph_def.library.function),
                 key=lambda n: (base_name(n), _uid(n)))
  for name in names:
    base = base_name(name)
    mapping[name] = f"{base}_{counts.get(base, 0)}"
    counts[base] = counts.get(base, 0) + 1
  return mapping


def _renumber_captures(function):
  """Captured inputs are named by the uid of the tensor captured
  (`_user_specified_name: "11100"`): rename them by their rank instead."""
  names = [value.attr["_user_specified_name"]
           for value in function.arg_attr.values()
           if value.attr["_user_specified_name"].s.isdigit()]
  ranks = {n: i for i, n in enumerate(sorted({v.s for v in names},
                                             key=int))}
  for value in names:
    value.s = str(ranks[value.s]).encode()


def _rename(meta_graph, mapping):
  library = meta_graph.graph_def.library
  for function in library.function:
    function.signature.name = mapping[function.signature.name]
    _renumber_captures(function)
  for node in _node_defs(meta_graph):
    for ref in _func_attrs(node.attr):
      ref.name = mapping.get(ref.name, ref.name)
  for gradient in library.gradient:
    gradient.function_name = mapping.get(gradient.function_name,
                                         gradient.function_name)
    gradient.gradient_func = mapping.get(gradient.gradient_func,
                                         gradient.gradient_func)
  ordered = sorted(library.function, key=lambda f: f.signature.name)
  del library.function[:]
  library.function.extend(ordered)
  graph = meta_graph.object_graph_def
  concrete = dict(graph.concrete_functions)
  graph.concrete_functions.clear()
  for name, function in concrete.items():
    graph.concrete_functions[mapping.get(name, name)].CopyFrom(function)
  for node in graph.nodes:
    kind = node.WhichOneof("kind")
    if kind == "function":
      renamed = [mapping.get(n, n) for n in node.function.concrete_functions]
      del node.function.concrete_functions[:]
      node.function.concrete_functions.extend(renamed)
    elif kind == "bare_concrete_function":
      name = node.bare_concrete_function.concrete_function_name
      node.bare_concrete_function.concrete_function_name = mapping.get(name,
                                                                       name)


def _hash64(message):
  """A uint64 of the deterministic serialization of `message`."""
  digest = hashlib.sha256(message.SerializeToString(deterministic=True))
  return int.from_bytes(digest.digest()[:8], "big")


def _write_fingerprint(export_dir, saved_model):
  """Recomputes fingerprint.pb with TensorFlow's fingerprinting of the
  rewritten files, but for two fields: TensorFlow's
  `saved_object_graph_hash` is not stable (it hashes a serialization of
  maps in no fixed order: two calls on one directory in one process gave
  two values), so it is a hash of the object graph's deterministic
  serialization here; and the `uuid`, random per save, is derived from the
  other fields."""
  fingerprint = fingerprint_pb2.FingerprintDef()
  fingerprint.ParseFromString(
      fingerprinting.CreateFingerprintDef(export_dir))
  fingerprint.saved_object_graph_hash = _hash64(
      saved_model.meta_graphs[0].object_graph_def)
  fingerprint.uuid = ""
  fingerprint.uuid = str(_hash64(fingerprint))
  with open(os.path.join(export_dir, FINGERPRINT_FILE), "wb") as f:
    f.write(fingerprint.SerializeToString(deterministic=True))


def remove_empty_directories(export_dir):
  """Deletes the empty directories below `export_dir` (deepest first)."""
  for directory, dirs, files in os.walk(export_dir, topdown=False):
    if directory != export_dir and not os.listdir(directory):
      os.rmdir(directory)


def canonicalize(export_dir):
  """Rewrites the SavedModel in `export_dir` in place (see module doc)."""
  path = os.path.join(export_dir, SAVED_MODEL_FILE)
  saved_model = saved_model_pb2.SavedModel()
  with open(path, "rb") as f:
    saved_model.ParseFromString(f.read())
  for meta_graph in saved_model.meta_graphs:
    _rename(meta_graph, canonical_names(meta_graph))
  with open(path, "wb") as f:
    f.write(saved_model.SerializeToString(deterministic=True))
  if os.path.exists(os.path.join(export_dir, FINGERPRINT_FILE)):
    _write_fingerprint(export_dir, saved_model)

"""The three small protos of the TF1 Hub format, defined here.

tensorflow-hub 0.16 no longer ships them, so their schema is declared below as
a FileDescriptorProto (the equivalent .proto text is in each docstring) and the
message classes are made from it in a private descriptor pool. Field numbers
and types are what tensorflow-hub 0.15's loader parses.
"""

from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory

_F = descriptor_pb2.FieldDescriptorProto

# `tfhub_module.pb` holds a ModuleDef with format FORMAT_V3.
MODULE_DEF_FILENAME = "tfhub_module.pb"
# MetaGraphDef collection (bytes_list) holding serialized ModuleAttachments.
ATTACHMENTS_COLLECTION = "hub_module_attachments"
# Attachment key of the ImageModuleInfo read by hub.get_expected_image_size().
IMAGE_MODULE_INFO_KEY = "image_module_info"
FORMAT_V3 = 3


def _field(name, number, ftype, label=_F.LABEL_OPTIONAL, type_name=None):
  field = _F(name=name, number=number, type=ftype, label=label)
  if type_name:
    field.type_name = type_name
  return field


def _file_descriptor():
  fd = descriptor_pb2.FileDescriptorProto(
      name="tfhub_export/hub_module.proto", package="tfhub_export",
      syntax="proto3")

  # message ModuleDef {
  #   enum Format { FORMAT_UNSPECIFIED = 0; FORMAT_V3 = 3; }
  #   Format format = 1;
  #   repeated string required_features = 2;
  # }
  module_def = fd.message_type.add(name="ModuleDef")
  fmt = module_def.enum_type.add(name="Format")
  fmt.value.add(name="FORMAT_UNSPECIFIED", number=0)
  fmt.value.add(name="FORMAT_V3", number=FORMAT_V3)
  module_def.field.extend([
      _field("format", 1, _F.TYPE_ENUM,
             type_name=".tfhub_export.ModuleDef.Format"),
      _field("required_features", 2, _F.TYPE_STRING, _F.LABEL_REPEATED)])

  # message ModuleAttachment { string key = 1; bytes value = 2; }
  attachment = fd.message_type.add(name="ModuleAttachment")
  attachment.field.extend([_field("key", 1, _F.TYPE_STRING),
                           _field("value", 2, _F.TYPE_BYTES)])

  # message ImageModuleInfo {
  #   message InputSize { int32 height = 1; int32 width = 2; }
  #   InputSize default_image_size = 1;
  # }
  info = fd.message_type.add(name="ImageModuleInfo")
  size = info.nested_type.add(name="InputSize")
  size.field.extend([_field("height", 1, _F.TYPE_INT32),
                     _field("width", 2, _F.TYPE_INT32)])
  info.field.append(_field(
      "default_image_size", 1, _F.TYPE_MESSAGE,
      type_name=".tfhub_export.ImageModuleInfo.InputSize"))
  return fd


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file_descriptor())


def _message_class(name):
  return message_factory.GetMessageClass(
      _POOL.FindMessageTypeByName(f"tfhub_export.{name}"))


ModuleDef = _message_class("ModuleDef")
ModuleAttachment = _message_class("ModuleAttachment")
ImageModuleInfo = _message_class("ImageModuleInfo")


def module_def_bytes():
  return ModuleDef(format=FORMAT_V3).SerializeToString()


def image_module_info_attachment(height, width):
  """Serialized ModuleAttachment carrying the module's default image size."""
  info = ImageModuleInfo()
  info.default_image_size.height = height
  info.default_image_size.width = width
  return ModuleAttachment(key=IMAGE_MODULE_INFO_KEY,
                          value=info.SerializeToString()).SerializeToString()

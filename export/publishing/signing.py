"""OpenSSF Model Signing of exported modules (the `model-signing` package).

A module is signed as it is staged, so its signature is published with it
and packed into its archive: `model.sig` in the module's directory, a
Sigstore bundle whose in-toto statement lists every file's sha256 (the
`model_signing` command-line tool verifies it too). A Lite module is signed
as its one file (`model.tflite`), which is served bare. Signers: an
elliptic-curve private key (`--sign_key`), or that key with its
certificate (`--sign_certificate`, `--sign_certificate_chain`); keyless
Sigstore signing (OIDC, Fulcio, Rekor) needs network access, see README.

ECDSA signatures are randomized: a module's files are reproducible, its
`model.sig` is not (so the signature is left out of what the inputs
digest and reproducibility compare).
"""

import dataclasses
import hashlib
import os

from export.core import published

SIGNATURE_FILE = "model.sig"
# The curves model-signing 1.1.1's key and certificate signers and its key
# verifier accept (`_signing/sign_ec_key.py`, `_check_supported_ec_key`:
# those of Sigstore's specs); any other key fails there only when used.
EC_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384",
             "secp521r1": "P-521"}
_CURVES_SHOWN = "P-256, P-384 or P-521"  # EC_CURVES' values.


def _expected(role):
  return (f"expected {'an unencrypted' if role == 'private' else 'a'} PEM "
          f"{role} key, EC on {_CURVES_SHOWN} (what OpenSSF Model Signing "
          "takes)")


class SigningError(RuntimeError):
  """A key, certificate or signature cannot be used, or does not verify.

  `field`: the Signer field ("key", "certificate", "certificate_chain") at
  fault, if one is.
  """

  def __init__(self, message, field=None):
    super().__init__(message)
    self.field = field


def _read(path):
  try:
    with open(path, "rb") as f:
      return f.read()
  except OSError as e:
    raise SigningError(f"cannot read {path}: {e.strerror}") from None


def _key_kind(key):
  """"RSA", "Ed25519", ... of a key that is not an EC key (cryptography's
  classes are `RSAPrivateKey`, `Ed25519PublicKey`, ...)."""
  return type(key).__name__.removesuffix("PrivateKey").removesuffix(
      "PublicKey")


def _check_ec(path, key, role):
  from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=g-import-not-at-top
  if not isinstance(key, (ec.EllipticCurvePrivateKey,
                          ec.EllipticCurvePublicKey)):
    raise SigningError(f"{path} is an {_key_kind(key)} key; "
                       f"{_expected(role)}")
  if key.curve.name not in EC_CURVES:
    raise SigningError(f"{path} is an EC key on {key.curve.name}; "
                       f"{_expected(role)}")


def check_private_key(path):
  """Raises SigningError (one line naming `path`) unless it is an
  unencrypted PEM private key that model_signing can sign with."""
  from cryptography.hazmat.primitives import serialization  # pylint: disable=g-import-not-at-top
  data = _read(path)
  try:
    key = serialization.load_pem_private_key(data, password=None)
  except TypeError:  # "Password was not given but private key is encrypted"
    raise SigningError(
        f"{path} is encrypted; {_expected('private')}: decrypt a copy "
        f"with `openssl pkey -in {path} -out KEY.pem`") from None
  except Exception:  # pylint: disable=broad-except
    # ValueError, UnsupportedAlgorithm: not a private key it can read.
    what = ("a public key" if _loads_as_public(data) else
            "not a PEM private key")
    raise SigningError(f"{path} is {what}; {_expected('private')}"
                       ) from None
  _check_ec(path, key, "private")


def check_public_key(path):
  """Raises SigningError (one line naming `path`) unless it is a PEM public
  key that model_signing can verify with."""
  from cryptography.hazmat.primitives import serialization  # pylint: disable=g-import-not-at-top
  data = _read(path)
  if not _loads_as_public(data):
    if b"PRIVATE KEY-----" in data:
      try:
        private = serialization.load_pem_private_key(data, None)
      except Exception:  # pylint: disable=broad-except
        private = None  # Encrypted or damaged: still, its public key is due.
      if private is not None:  # A key of another kind says so first.
        _check_ec(path, private, "public")
      raise SigningError(
          f"{path} is a private key; {_expected('public')}: derive it "
          f"with `openssl pkey -in {path} -pubout -out KEY.pub.pem`")
    raise SigningError(f"{path} is not a PEM public key; "
                       f"{_expected('public')}")
  _check_ec(path, serialization.load_pem_public_key(data), "public")


def _loads_as_public(data):
  from cryptography.hazmat.primitives import serialization  # pylint: disable=g-import-not-at-top
  try:
    serialization.load_pem_public_key(data)
    return True
  except Exception:  # pylint: disable=broad-except
    return False


def check_certificates(path, key=None):
  """Raises SigningError (one line naming `path`) unless it holds PEM
  certificates (with `key`, a private key's path: one, of that key)."""
  from cryptography import x509  # pylint: disable=g-import-not-at-top
  from cryptography.hazmat.primitives import serialization  # pylint: disable=g-import-not-at-top
  data = _read(path)
  try:
    certificates = x509.load_pem_x509_certificates(data)
  except ValueError:
    raise SigningError(f"{path} is not a PEM certificate; expected "
                       "-----BEGIN CERTIFICATE----- blocks") from None
  if key is None:
    return
  public = serialization.load_pem_private_key(_read(key),
                                              password=None).public_key()
  if len(certificates) != 1 or certificates[0].public_key() != public:
    raise SigningError(f"{path} is not the certificate of the private key "
                       f"{key}; expected that key's signing certificate")


@dataclasses.dataclass(frozen=True)
class Signer:
  key: str                          # PEM private key (EC).
  certificate: str = None           # PEM signing certificate, if any.
  certificate_chain: tuple = ()     # PEM certificates up to a root.

  def identity(self):
    """What the signatures depend on (for the inputs digest): the key's,
    certificate's and chain's bytes, hashed."""
    digest = hashlib.sha256()
    for path in (self.key, self.certificate, *self.certificate_chain):
      if path:
        with open(path, "rb") as f:
          digest.update(hashlib.sha256(f.read()).digest())
    return digest.hexdigest()

  def check(self):
    """Raises SigningError (one line naming the flag's file) unless this
    signer can sign: before any work, not once per module."""
    checks = [("key", self.key, check_private_key)]
    if self.certificate:
      checks.append(("certificate", self.certificate,
                     lambda path: check_certificates(path, key=self.key)))
    checks += [("certificate_chain", path, check_certificates)
               for path in self.certificate_chain]
    for field, path, check_file in checks:
      try:
        check_file(path)
      except SigningError as e:
        raise SigningError(str(e), field) from None
    try:
      self._config()  # What model_signing itself checks.
    except Exception as e:  # pylint: disable=broad-except
      raise SigningError(f"model_signing refuses {self.key}: "
                         f"{type(e).__name__}: {e}", "key") from None

  def _config(self):
    from model_signing import hashing  # pylint: disable=g-import-not-at-top
    from model_signing import signing as ms  # pylint: disable=g-import-not-at-top
    config = ms.Config().set_hashing_config(
        hashing.Config().set_ignored_paths(paths=[SIGNATURE_FILE]))
    if self.certificate:
      return config.use_certificate_signer(
          private_key=self.key, signing_certificate=self.certificate,
          certificate_chain=list(self.certificate_chain))
    return config.use_elliptic_key_signer(private_key=self.key)

  def sign(self, module_dir, fmt):
    """Writes `module_dir/model.sig`, covering every file of the module
    (of a Lite module, its one file)."""
    target = (os.path.join(module_dir, published.LITE_MODEL_FILE)
              if fmt == published.FORMAT_LITE else module_dir)
    try:
      self._config().sign(target, os.path.join(module_dir, SIGNATURE_FILE))
    except (ValueError, OSError, TypeError) as e:
      raise SigningError(f"signing {module_dir} with {self.key}: {e}"
                         ) from None


def signed_target(path):
  """(what the signature covers, the signature) of a module directory or
  downloaded version: a directory with one `.tflite` file is a Lite
  module, whose signature covers that file."""
  tflite = [n for n in os.listdir(path) if n.endswith(".tflite")]
  signature = os.path.join(path, SIGNATURE_FILE)
  if len(tflite) == 1 and set(os.listdir(path)) <= {tflite[0],
                                                    SIGNATURE_FILE}:
    return os.path.join(path, tflite[0]), signature
  return path, signature


def verify(path, public_key=None, certificate_chain=(), identity=None,
           issuer=None):
  """Checks the signature of the module at `path`: with `public_key` (PEM),
  a certificate chain, or Sigstore's keyless `identity` and OIDC `issuer`.

  Returns:
    [problem], empty if the signature holds; each names the file.
  """
  from model_signing import verifying  # pylint: disable=g-import-not-at-top
  target, signature = signed_target(path)
  if not os.path.isfile(signature):
    return [f"{signature}: no signature"]
  config = verifying.Config()
  if public_key:
    config = config.use_elliptic_key_verifier(public_key=public_key)
  elif certificate_chain:
    config = config.use_certificate_verifier(
        certificate_chain=list(certificate_chain))
  else:
    config = config.use_sigstore_verifier(identity=identity,
                                          oidc_issuer=issuer)
  try:
    config.verify(target, signature)
  except ValueError as e:
    message = str(e)
    if not message.startswith("Signature mismatch: "):
      # Not the files: the signature itself (another key, say).
      return [f"{signature}: {message.splitlines()[0].strip()}"]
    return [f"{path}: {line}" for line in _mismatches(message)]
  except Exception as e:  # pylint: disable=broad-except
    # model_signing raises what its crypto libraries raise for a signature
    # of another key or a damaged bundle.
    return [f"{signature}: does not verify ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else 'bad signature'})"]
  return []


def _mismatches(message):
  """model_signing's "Signature mismatch: [...]" as one line per file."""
  import ast  # pylint: disable=g-import-not-at-top
  prefix = "Signature mismatch: "
  if message.startswith(prefix):
    try:
      return [line.split(": Expected")[0]
              for line in ast.literal_eval(message[len(prefix):])]
    except (ValueError, SyntaxError):
      pass
  return [message.splitlines()[0]]

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


class SigningError(RuntimeError):
  """A key, certificate or signature cannot be used, or does not verify."""


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

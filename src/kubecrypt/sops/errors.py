"""sops' failures with sops' exit codes (cmd/sops/codes/codes.go), so scripts written for sops
keep working with kubecrypt."""

from __future__ import annotations

from kubecrypt.errors import KubecryptError


class SopsError(KubecryptError):
    exit_code = 1


class CouldNotReadInput(SopsError):
    exit_code = 2


class CouldNotReadEncrypted(SopsError):
    """An encrypted file that does not parse: sops returns the store's error unwrapped (exit 1),
    where the same error reading a plaintext file is CouldNotReadInput (exit 2)."""

    exit_code = 1


class CouldNotWriteOutput(SopsError):
    exit_code = 3


class ErrorDumpingTree(SopsError):
    exit_code = 4


class ErrorReadingConfig(SopsError):
    exit_code = 5


class InvalidSetFormat(SopsError):
    exit_code = 7


class ConflictingParameters(SopsError):
    exit_code = 8


class ErrorEncryptingMac(SopsError):
    exit_code = 21


class ErrorEncryptingTree(SopsError):
    exit_code = 23


class ErrorDecryptingMac(SopsError):
    exit_code = 24


class ErrorDecryptingTree(SopsError):
    exit_code = 25


class MacMismatch(SopsError):
    exit_code = 51


class ConfigFileNotFound(SopsError):
    exit_code = 61


class InvalidTreePathFormat(SopsError):
    exit_code = 91


class NeedAtLeastOneDocument(SopsError):
    exit_code = 92


class NoFileSpecified(SopsError):
    exit_code = 100


class NoEncryptionKeyFound(SopsError):
    exit_code = 111


class CouldNotRetrieveKey(SopsError):
    exit_code = 128


class FileHasNotBeenModified(SopsError):
    exit_code = 200


class NoEditorFound(SopsError):
    exit_code = 201


class FileAlreadyEncrypted(SopsError):
    exit_code = 203


class MetadataNotFound(SopsError):
    exit_code = 1

    def __init__(self, message: str = "sops metadata not found") -> None:
        super().__init__(message)

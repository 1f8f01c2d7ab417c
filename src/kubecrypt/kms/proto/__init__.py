"""Generated KMS v2 and v1beta1 gRPC stubs (see scripts/gen-kms-protos.sh); do not edit."""

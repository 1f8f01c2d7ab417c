"""Generated Secrets Store CSI provider (v1alpha1) gRPC stubs (see scripts/gen-csi-protos.sh); do not edit."""

#!/usr/bin/env bash
# Regenerates the committed Secrets Store CSI provider stubs from src/kubecrypt/csi/proto/*.proto,
# with the same old grpcio-tools as the KMS stubs (see gen-kms-protos.sh for why).
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_VERSION=1.66.2
VENV="${GEN_PROTOS_VENV:-/tmp/kubecrypt-grpc-tools-$TOOLS_VERSION}"
if ! "$VENV/bin/python" -c "import grpc_tools" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "grpcio-tools==$TOOLS_VERSION"
fi

"$VENV/bin/python" -m grpc_tools.protoc -I src \
  --python_out=src --pyi_out=src --grpc_python_out=src \
  src/kubecrypt/csi/proto/v1alpha1.proto
for f in src/kubecrypt/csi/proto/*_pb2.pyi; do
  { echo "# ruff: noqa"; cat "$f"; } > "$f.tmp" && mv "$f.tmp" "$f"
done
echo "regenerated stubs with grpcio-tools $TOOLS_VERSION"

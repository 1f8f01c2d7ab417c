#!/usr/bin/env bash
# Regenerates the committed KMS gRPC stubs from src/kubecrypt/kms/proto/*.proto.
#
# Stubs are made with an OLD grpcio-tools on purpose: stubs from grpcio-tools 1.85 pin runtime
# floors of protobuf >= 7.35.1 and grpcio >= 1.85.1, while stubs from 1.66.2 load on protobuf 5.29
# and 7.x alike (see ../shared/specs/kms-plugins-deps-perf.md, B.2). The tools live in a
# throwaway venv so they never touch the project's environment.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_VERSION=1.66.2
VENV="${GEN_PROTOS_VENV:-/tmp/kubecrypt-grpc-tools-$TOOLS_VERSION}"
if ! "$VENV/bin/python" -c "import grpc_tools" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "grpcio-tools==$TOOLS_VERSION"
fi

# -I src makes the registered file names kubecrypt/kms/proto/*.proto (unique in the descriptor
# pool) and the generated imports absolute (from kubecrypt.kms.proto import v2_pb2).
"$VENV/bin/python" -m grpc_tools.protoc -I src \
  --python_out=src --pyi_out=src --grpc_python_out=src \
  src/kubecrypt/kms/proto/v2.proto src/kubecrypt/kms/proto/v1beta1.proto
# The .pyi stubs give mypy real types; they are generated text, so ruff is told to skip them.
for f in src/kubecrypt/kms/proto/*_pb2.pyi; do
  { echo "# ruff: noqa"; cat "$f"; } > "$f.tmp" && mv "$f.tmp" "$f"
done
echo "regenerated stubs with grpcio-tools $TOOLS_VERSION"

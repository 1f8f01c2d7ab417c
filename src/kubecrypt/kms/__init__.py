"""KMS plugins: the gRPC APIs kube-apiserver speaks, our plugin server, its backends and client."""

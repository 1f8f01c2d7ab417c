"""The Sealed Secrets controller, interchangeable with bitnami-labs/sealed-secrets': same key
Secrets, CRD, annotations, status, events, HTTP endpoints and metrics names."""

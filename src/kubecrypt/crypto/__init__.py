"""Primitives composed exactly as the formats require. No Kubernetes knowledge lives here."""

"""The Secrets Store CSI provider (``v1alpha1.CSIDriverProvider``) and the driver's side of one
mount (``kubecrypt csi mount``). docs/csi.md walks both."""

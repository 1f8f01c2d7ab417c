"""One module per provider, all behind :class:`~kubecrypt.atrest.providers.base.Provider`."""

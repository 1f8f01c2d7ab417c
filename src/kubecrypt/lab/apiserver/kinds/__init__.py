"""One module per kind the lab serves: its Strategy and its ``RESOURCES`` (the registry finds
every module here that defines ``RESOURCES``)."""

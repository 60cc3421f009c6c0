"""The application, on top of every other layer: the ``tanba`` command, the in-process
pipeline runner (``tanba run``) and the demo."""

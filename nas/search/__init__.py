"""The architecture search: ``python -m nas.search`` (the command is __main__.py), or from Python
``nas.search.run.search`` / ``resume`` (re-exported by :mod:`nas.api`)."""

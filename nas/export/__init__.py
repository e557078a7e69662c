"""python -m nas.export (the command is __main__.py)."""

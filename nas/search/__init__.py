"""python -m nas.search (the command is __main__.py)."""

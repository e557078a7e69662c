"""python -m nas.train (the command is __main__.py)."""

"""python -m nas.distill (the command is __main__.py)."""

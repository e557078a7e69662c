"""python -m nas.denoise (the command is __main__.py)."""

"""python -m nas.evaluate (the command is __main__.py)."""

"""python -m nas.analyze: what an evaluation database says about the genes."""

"""python -m nas.transfer: do the proxy's winners stay ahead at longer, wider training?"""

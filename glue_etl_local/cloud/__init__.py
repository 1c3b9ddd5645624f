"""The local cloud: moto, patched so the pipeline's real ASL, job scripts and Lambda run here.

Never deployed. See `server.LocalCloud` for the entry point and `patches` for what is changed in
moto (each patch has a test that fails loudly if moto's internals move).
"""

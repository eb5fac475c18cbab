"""The bundled demo: made-up Libya news outlets served from a local HTTP server.

See :mod:`pipeline.demo.corpus` for what the corpus contains and why.
"""

"""HTTP API and search page: ``newswatch serve``.

One FastAPI app (:func:`pipeline.api.app.create_app`) serves the JSON API under
``/api`` and the page (static files written by the project) under ``/``.
"""

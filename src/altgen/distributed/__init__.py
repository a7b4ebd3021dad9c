"""altgen as a Ray Serve application (``altgen serve --engine ray``): the same FastAPI app as the ingress, the
captioner as its own deployment. Needs the ``ray`` extra; nothing outside this package imports Ray."""

"""The HTTP side: the legacy routes, the v1 API, health, the page, and the middleware in front of them (``api.app.create_app``)."""

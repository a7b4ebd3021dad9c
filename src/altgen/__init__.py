"""altgen: alt text for photos from a vision model, served over HTTP with micro-batching."""

__version__ = "0.1.0"

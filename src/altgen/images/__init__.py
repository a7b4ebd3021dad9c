"""Uploaded photos: decoded within a pixel budget, checked, and resized by the /config rule."""

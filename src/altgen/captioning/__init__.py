"""Describing photos: the captioner contract, the micro-batching queue, and the models of this process."""

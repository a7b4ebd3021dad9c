"""The text encoders that ranking runs in this process: multilingual-e5-small and USE from their wheels, or
any sentence-transformers model."""

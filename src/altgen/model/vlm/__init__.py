"""Vision-language models by hub id or folder (transformers), their prompts, and the cleaning of their words."""

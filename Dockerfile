# altgen for GPU hosts. Build: docker compose build; run: docker compose up -d
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
WORKDIR /app

# The CUDA builds of torch and torchvision come first, together from PyTorch's index (a torchvision from
# another build fails to import); altgen then installs against them.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128
RUN pip install --index-url "$TORCH_INDEX" "torch>=2.4" torchvision

# Hangul in photos is read by Tesseract's Korean model (docs/text-in-photos.md).
RUN apt-get update && apt-get install -y --no-install-recommends tesseract-ocr-kor && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install ".[hub,vlm]"

EXPOSE 8890
CMD ["altgen", "serve", "--host", "0.0.0.0", "--port", "8890"]

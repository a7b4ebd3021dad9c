"""Clients of OpenAI-compatible inference engines (vLLM, SGLang, TGI, Ollama, Infinity, ...) as captioners and embedders."""

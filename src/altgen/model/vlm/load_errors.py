"""Why a vision-language model cannot load here, said in one message a person can act on (what is
missing and the command that installs it) instead of a traceback from inside transformers."""

from __future__ import annotations

import contextlib
import importlib.metadata
import re
from pathlib import Path

from altgen.errors import ModelUnavailable

VLM_INSTALL = (
    "install torch and torchvision from the same place: `pip install -e '.[vlm]'` takes both from PyPI, or for "
    "a CPU-only build `pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu` first "
    "(docs/captioner.md: Vision-language models)"
)
# Packages some processors import lazily, and how to get each.
EXTRA_PACKAGES = {
    "torchvision": VLM_INSTALL,
    "num2words": "`pip install -e '.[vlm]'` (or `pip install num2words`)",
}


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _causes(exc: BaseException) -> list[BaseException]:
    chain = [exc]
    while chain[-1].__cause__ is not None or chain[-1].__context__ is not None:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)
    return chain


def explain(model: str, exc: BaseException) -> ModelUnavailable | None:
    """The clear message for a failure we recognise; None for anything else (a real bug to show in full)."""
    if model.startswith(("/", ".", "~")) and not Path(model).expanduser().exists():
        return ModelUnavailable(f"{model}: no such folder")
    text = " ".join(str(e) for e in _causes(exc))
    if "torchvision::" in text:  # torchvision built against another torch build: every processor import fails
        return ModelUnavailable(
            f"{model}: torchvision {_version('torchvision')} does not match torch {_version('torch')} (they come from "
            f"different builds, e.g. a CPU torch with torchvision from PyPI); {VLM_INSTALL}"
        )
    for package, how in EXTRA_PACKAGES.items():
        if isinstance(exc, ImportError) and package in text.lower():
            return ModelUnavailable(f"{model}: its processor needs {package}, which is not installed; {how}")
    if isinstance(exc, ValueError) and "Unrecognized configuration class" in text:
        config = re.search(r"configuration class <class '[\w.]*?(\w+)'>", text)
        what = f" ({config.group(1)})" if config else ""
        return ModelUnavailable(
            f"{model}{what} is not an image-text-to-text model that transformers {_version('transformers')} can load; "
            "see the table of vision-language model families in docs/captioner.md"
        )
    if isinstance(exc, OSError):
        return ModelUnavailable(f"{model}: cannot read the model ({str(exc).splitlines()[0][:300]})")
    return None


@contextlib.contextmanager
def explained(model: str):
    """Turns a failure we recognise while loading ``model`` into ModelUnavailable; others pass unchanged."""
    try:
        yield
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        unavailable = explain(model, exc)
        if unavailable is None:
            raise
        raise unavailable from None

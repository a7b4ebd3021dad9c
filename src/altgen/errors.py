"""What can go wrong with a request, in words a client can act on: one exception for each outcome, which
every entry point maps to one answer (the HTTP APIs to a status, the CLI to a line). Imports nothing of altgen."""

from __future__ import annotations


class RequestRejected(Exception):
    """A request the service will not take as sent (a 4xx): ``message`` names the field and the rule."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class TooMuchNewText(RequestRejected):
    """A ranking request whose new descriptions could not be embedded within a request's deadline even with
    the encoder to itself (413). ``fits``: how many of them would; the API names its field."""

    def __init__(self, new: int, characters: int, fits: int, speed: float, budget_s: float):
        super().__init__(
            413,
            f"{new} of the descriptions are new to the service ({characters:,} characters) and must be embedded "
            f"first: at the measured speed ({speed:,.0f} characters a second) that takes about "
            f"{characters / speed:,.0f} s, past the {budget_s:g} s deadline. About {fits} of them fit in one "
            "request: send at most that many new descriptions at a time (descriptions already seen cost nothing)",
        )
        self.new, self.characters, self.fits = new, characters, fits


class ImageRejected(ValueError):
    """An upload that is not a usable photo; ``status`` is the HTTP code that fits."""

    def __init__(self, name: str, reason: str, status: int = 422):
        super().__init__(f"file '{name}': {reason}")
        self.name = name
        self.reason = reason
        self.status = status

    def __reduce__(self):
        return type(self), (self.name, self.reason, self.status)


class ServiceBusy(Exception):
    """Not now: the client should retry after ``retry_after_s`` (503 with Retry-After)."""

    def __init__(self, message: str, retry_after_s: int = 1):
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def __reduce__(self):  # rebuilt from its own arguments when a Ray replica raises it
        return type(self), (str(self), self.retry_after_s)


class QueueFull(ServiceBusy):
    """The queue cannot take the whole request now (``altgen.admission`` decides)."""

    def __init__(self, wanted: int, free: int, retry_after_s: int = 1):
        super().__init__(f"the service is busy: {wanted} image(s) asked for, {free} queue slot(s) free; retry later", retry_after_s)
        self.wanted, self.free = wanted, free

    def __reduce__(self):
        return QueueFull, (self.wanted, self.free, self.retry_after_s)


class EncoderBusy(ServiceBusy):
    """The ranking encoder has too much other work queued for this request's new descriptions to be
    embedded before its deadline (``altgen.admission`` decides)."""


class ModelBusy(ServiceBusy):
    """The model cannot take this photo now (a remote engine overloaded or unreachable). The message is altgen's
    own, safe to show a client."""


class DeadlineExceeded(Exception):
    """The request's deadline passed (504). ``detail`` says where, or what the client can do."""

    def __init__(self, budget_s: float, detail: str = ""):
        super().__init__(f"no answer within the {budget_s:g} s deadline" + (f" ({detail})" if detail else ""))
        self.budget_s, self.detail = budget_s, detail

    def __reduce__(self):
        return DeadlineExceeded, (self.budget_s, self.detail)


class ModelFailed(Exception):
    """The model raised on a photo; only the request holding that photo gets this error. Its message
    names the photo, never the exception's own text (logged, with the request id)."""


class ModelUnavailable(RuntimeError):
    """A model that cannot load on this install (at start-up); the message says why and what to do."""

"""The small vocabularies the API, the service and the models share. Imports nothing of altgen."""

from typing import Literal

Language = Literal["en", "ko"]
LANGUAGES: tuple[str, ...] = ("en", "ko")
# "alt": one or two sentences a screen reader reads in one go; "long": a fuller description.
Detail = Literal["alt", "long"]
# Whether a text to embed is a request ("query") or a photo description ("passage").
TextKind = Literal["query", "passage"]

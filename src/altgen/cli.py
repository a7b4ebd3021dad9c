"""``altgen serve`` runs the HTTP service; ``altgen describe PHOTO...`` prints descriptions directly."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from altgen.logs import configure_logging
from altgen.settings import Settings

# The settings that change what `altgen describe` does (the rest only concern the HTTP server).
DESCRIBE_SETTINGS = (
    "model", "devices", "torch_threads", "load_format", "dtype", "kv_cache", "compiled_batch_sizes", "max_batch_size",
    "max_new_tokens", "long_max_new_tokens", "alt_text_max_chars", "long_text_max_chars", "halve_rate", "min_size",
    "max_file_bytes", "max_image_pixels", "log_level",
)


def _add_setting_flags(parser: argparse.ArgumentParser, names: tuple[str, ...] | None = None) -> None:
    """One flag per setting (``--max-batch-size`` for ``ALTGEN_MAX_BATCH_SIZE``); a flag beats the env var."""
    for name, field in Settings.model_fields.items():
        if names is not None and name not in names:
            continue
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=None,
            metavar=name.upper(),
            help=f"{field.description} (env ALTGEN_{name.upper()}, default {field.default!r})",
        )


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {name: getattr(args, name, None) for name in Settings.model_fields}
    overrides = {name: value for name, value in overrides.items() if value is not None}
    return Settings(**overrides)


class HideExplainedStartupFailure(logging.Filter):
    """Drops uvicorn's traceback of a start-up failure that was already explained in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "ModelUnavailable:" not in record.getMessage()


def _serve(settings: Settings) -> int:
    import uvicorn

    from altgen.api.app import create_app
    from altgen.api.connections import AcceptErrorsOncePerMinute, guarded_protocol

    logging.getLogger("asyncio").addFilter(AcceptErrorsOncePerMinute())
    logging.getLogger("uvicorn.error").addFilter(HideExplainedStartupFailure())
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; a shutdown that went as planned exits 0.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda _signal, _frame: sys.exit(0))
    uvicorn.run(
        create_app(settings),
        http=guarded_protocol(settings.header_timeout_s, settings.max_connections),
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep the logging set up in main(), with request ids
        access_log=False,  # altgen.access writes one JSON line per request instead
        timeout_graceful_shutdown=settings.shutdown_grace_s,
        timeout_keep_alive=settings.keep_alive_s,
    )
    return 0


async def _describe(settings: Settings, paths: list[Path], language: str, detail: str, as_json: bool) -> int:
    """Descriptions on stdout (one line, or one JSON object, per photo); everything else on stderr.
    Files are checked before the model loads, so a typo is reported at once."""
    from altgen.composition import build_service
    from altgen.errors import ImageRejected

    failures = 0

    def report(path: Path, text: str | None = None, error: str | None = None) -> None:
        nonlocal failures
        if error is not None:
            failures += 1
            print(f"{path}: error: {error}", file=sys.stderr)
        if as_json:
            print(json.dumps({"file": str(path), "description": text, "error": error}, ensure_ascii=False))
        elif text is not None:
            print(f"{path.name}: {text}")

    readable = []
    for path in paths:
        try:
            readable.append((path, path.read_bytes()))
        except OSError as exc:
            report(path, error=exc.strerror or str(exc))
    if not readable:
        return 1
    service = build_service(settings)
    try:
        await service.start()
        prepared = []
        for path, data in readable:
            try:
                prepared.append((path, await service.prepare(path.name, data)))
            except ImageRejected as exc:
                report(path, error=str(exc))
        described = await service.describe([image for _, image in prepared], language, detail) if prepared else []
        for (path, _image), item in zip(prepared, described):
            report(path, item.text)
    finally:
        await service.stop()
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="altgen", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service (port 8890 by default)")
    _add_setting_flags(serve)
    describe = commands.add_parser(
        "describe", help="print a description of each photo", description="Print a description of each photo on stdout."
    )
    describe.add_argument("photos", nargs="+", type=Path)
    describe.add_argument("--lang", choices=["en", "ko"], default="en", help="language of the descriptions")
    describe.add_argument(
        "--detail", choices=["alt", "long"], default="alt", help="alt: one or two sentences; long: a fuller description"
    )
    describe.add_argument("--json", action="store_true", help="one JSON object per photo: file, description, error")
    _add_setting_flags(describe, DESCRIBE_SETTINGS)
    args = parser.parse_args(argv)

    try:
        settings = _settings(args)
    except ValueError as exc:
        parser.error(str(exc))
    configure_logging(settings.log_level)
    if args.command == "serve" and settings.engine == "ray":
        from altgen.distributed.run import (
            serve_on_ray,  # Ray is imported for this engine only
        )

        return serve_on_ray(settings)
    if args.command == "serve":
        return _serve(settings)
    from altgen.errors import ModelUnavailable

    try:
        return asyncio.run(_describe(settings, args.photos, args.lang, args.detail, args.json))
    except ModelUnavailable as exc:
        print(f"altgen: cannot start: {exc}", file=sys.stderr)
        return 2

"""``altgen serve`` runs the HTTP service; ``altgen describe PHOTO...`` prints descriptions directly."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from altgen.settings import Settings


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting (``--max-batch-size`` for ``ALTGEN_MAX_BATCH_SIZE``); a flag beats the env var."""
    for name, field in Settings.model_fields.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=None,
            metavar=name.upper(),
            help=f"{field.description} (env ALTGEN_{name.upper()}, default {field.default!r})",
        )


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {name: getattr(args, name) for name in Settings.model_fields if getattr(args, name) is not None}
    return Settings(**overrides)


def _serve(settings: Settings) -> int:
    import uvicorn

    from altgen.api.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep the logging set up in main(), with request ids
        access_log=False,  # altgen.access writes one JSON line per request instead
        timeout_graceful_shutdown=settings.shutdown_grace_s,
        timeout_keep_alive=settings.keep_alive_s,
    )
    return 0


async def _describe(settings: Settings, paths: list[Path], language: str, detail: str) -> int:
    from altgen.images import ImageRejected
    from altgen.service import AltTextService

    service = AltTextService(settings)
    await service.start()
    failures = 0
    try:
        prepared = []
        for path in paths:
            try:
                prepared.append(await service.prepare(path.name, path.read_bytes()))
            except (OSError, ImageRejected) as exc:
                print(f"{path}: error: {exc}", file=sys.stderr)
                failures += 1
        for item in await service.describe(prepared, language, detail) if prepared else []:
            print(f"{item.image.name}: {item.text}")
    finally:
        await service.stop()
    return 1 if failures else 0


def _configure_logging(level: str) -> None:
    from altgen.api.middleware import RequestIdFilter

    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="altgen", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service (port 8890 by default)")
    _add_setting_flags(serve)
    describe = commands.add_parser("describe", help="print a description of each photo")
    describe.add_argument("photos", nargs="+", type=Path)
    describe.add_argument("--lang", choices=["en", "ko"], default="en", help="language of the descriptions")
    describe.add_argument(
        "--detail", choices=["alt", "long"], default="alt", help="alt: one or two sentences; long: a fuller description"
    )
    _add_setting_flags(describe)
    args = parser.parse_args(argv)

    try:
        settings = _settings(args)
    except ValueError as exc:
        parser.error(str(exc))
    _configure_logging(settings.log_level)
    if args.command == "serve":
        return _serve(settings)
    return asyncio.run(_describe(settings, args.photos, args.lang, args.detail))

"""``altgen serve`` runs the HTTP service; ``altgen describe PHOTO...`` prints descriptions directly."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Callable, Literal, get_args, get_origin

from pydantic import ValidationError

from altgen.logs import configure_logging
from altgen.settings import Settings

# The settings that change what `altgen describe` does (the rest only concern the HTTP server).
DESCRIBE_SETTINGS = (
    "model", "devices", "torch_threads", "load_format", "dtype", "kv_cache", "compiled_batch_sizes", "max_batch_size",
    "max_batch_wait_ms", "queue_capacity", "request_timeout_s", "read_text", "max_new_tokens", "long_max_new_tokens",
    "alt_text_max_chars", "long_text_max_chars", "halve_rate", "min_size", "max_file_bytes", "max_image_pixels",
    "decode_memory_mb", "log_level",
)


# `altgen serve --help` shows the settings in these groups, the common ones first; a setting not named here
# lands in "other" (so a new setting is never hidden).
FLAG_GROUPS = {
    "common": ("model", "host", "port", "api_keys", "admin_key", "devices", "ui", "read_text", "embedder",
               "cache_path", "log_level", "halve_rate", "min_size"),
    "performance": ("max_batch_size", "max_batch_wait_ms", "busy_batch_wait_ms", "max_batch_pixels", "queue_capacity",
                    "torch_threads", "request_timeout_s", "memory_cache_mb", "cache_max_entries", "embedding_turn_s"),
    "limits and connections": ("max_file_bytes", "max_files_per_request", "max_request_bytes", "max_image_pixels",
                               "decode_memory_mb", "max_candidates", "max_text_chars", "keep_alive_s", "header_timeout_s",
                               "body_timeout_s", "body_min_rate", "max_connections", "max_connections_per_client", "ops_connections",
                               "shutdown_grace_s", "restart_backoff_s"),
    "ranking": ("glossary", "lexical_weight", "match_threshold", "embedder_device"),
    "vision-language models (GPU)": ("dtype", "kv_cache", "compiled_batch_sizes", "load_format", "max_new_tokens",
                                     "min_new_tokens", "long_max_new_tokens", "alt_text_max_chars", "long_text_max_chars"),
    "OpenAI-compatible engines": ("engine_api_key", "engine_concurrency"),
    "Ray (pip install 'altgen[ray]')": ("engine",),
}
SECRET_SETTINGS = frozenset({"api_keys", "admin_key", "engine_api_key"})


def _group_of(name: str) -> str:
    if name.startswith("ray_"):
        return "Ray (pip install 'altgen[ray]')"
    return next((group for group, names in FLAG_GROUPS.items() if name in names), "other")


def _add_setting_flags(parser: argparse.ArgumentParser, names: tuple[str, ...] | None = None) -> None:
    """One flag per setting (``--max-batch-size`` for ``ALTGEN_MAX_BATCH_SIZE``), in groups; a flag beats the env var."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    chosen = [name for name in Settings.model_fields if names is None or name in names]
    order = list(FLAG_GROUPS) + ["other"]
    for name in sorted(chosen, key=lambda n: order.index(_group_of(n))):
        field = Settings.model_fields[name]
        group_name = _group_of(name) if names is None else "settings"
        if group_name not in groups:
            groups[group_name] = parser.add_argument_group(group_name)
        default = "not set" if name in SECRET_SETTINGS or field.default is None else f"{field.default!r}"
        if isinstance(field.default, bool):
            default = "on" if field.default else "off"
        choices = get_args(field.annotation) if get_origin(field.annotation) is Literal else None
        groups[group_name].add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=None,
            choices=choices,
            metavar=None if choices else _metavar(field.default),
            help=f"{field.description} (env ALTGEN_{name.upper()}; default {default})",
        )


def _metavar(default: object) -> str:
    if isinstance(default, bool):
        return "{true,false}"
    if isinstance(default, (int, float)):
        return "N"
    return "TEXT"


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {name: getattr(args, name, None) for name in Settings.model_fields}
    overrides = {name: value for name, value in overrides.items() if value is not None}
    return Settings(**overrides)


def _one_line(error: ValidationError, args: argparse.Namespace) -> str:
    """The first problem in one line: the flag (or, when the value came from the environment, the variable)
    and the rule, without pydantic's links. The value is not repeated: it may hold a key."""
    problem = error.errors()[0]
    name = str(problem["loc"][0]) if problem.get("loc") else ""
    rule = problem["msg"].removeprefix("Value error, ")
    if not name:
        return rule
    where = f"--{name.replace('_', '-')}" if getattr(args, name, None) is not None else f"ALTGEN_{name.upper()}"
    return f"{where}: {rule}"


class HideExplainedStartupFailure(logging.Filter):
    """Drops uvicorn's traceback of a start-up failure that was already explained in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "ModelUnavailable:" not in record.getMessage()


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class GraceEndedIsNoError(logging.Filter):
    """uvicorn logs the end of the shutdown grace as an ERROR; for an orderly stop it is a warning (the requests
    it cancels are answered 503 by the app)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and "timeout graceful shutdown exceeded" in record.getMessage():
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _serve(settings: Settings) -> int:
    import uvicorn

    from altgen.api.app import create_app
    from altgen.api.connections import AcceptErrorsOncePerMinute, ConnectionRules, guarded_protocol

    if settings.host not in LOOPBACK_HOSTS and not settings.api_key_list():
        logging.getLogger("altgen").warning(
            "listening on %s:%d with no API key: anyone who can reach this machine can use the service; "
            "set ALTGEN_API_KEYS (or --api-keys) to require a key, or --host 127.0.0.1 to serve this machine only",
            settings.host, settings.port,
        )
    logging.getLogger("asyncio").addFilter(AcceptErrorsOncePerMinute())
    logging.getLogger("uvicorn.error").addFilter(HideExplainedStartupFailure())
    logging.getLogger("uvicorn.error").addFilter(GraceEndedIsNoError())
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; a shutdown that went as planned exits 0.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda _signal, _frame: sys.exit(0))
    uvicorn.run(
        create_app(settings),
        http=guarded_protocol(ConnectionRules.from_settings(settings)),
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep the logging set up in main(), with request ids
        access_log=False,  # altgen.access writes one JSON line per request instead
        timeout_graceful_shutdown=settings.shutdown_grace_s,
        timeout_keep_alive=settings.keep_alive_s,
    )
    return 0


async def _describe(settings: Settings, args: argparse.Namespace) -> int:
    """Descriptions on stdout (one line, or one JSON object, per photo) or in ``--output`` as they are done;
    progress and the summary on stderr. Missing files are reported before the model loads."""
    from altgen.composition import build_service
    from altgen.folder.describe import Pace, describe_each
    from altgen.folder.discover import photos_in
    from altgen.folder.results import ResultWriter, already_described, warn

    found = list(photos_in(args.photos, args.recursive))
    if found and all(problem for _path, problem in found):
        for path, problem in found:
            warn(f"{path}: error: {problem}")
        return 1
    if args.resume:
        done = already_described(args.output)
        found = [(path, problem) for path, problem in found if str(path) not in done]
        warn(f"resuming: {len(done)} photo(s) already in {args.output}")
    pace = Pace()
    writer = ResultWriter(args.output, args.json)
    progress = _progress(len(found), "describing")
    # Describing ranks nothing: no ranker (about 400 MB less, and nothing written is embedded for searches).
    service = build_service(settings, ranker_factory=lambda _settings: None)
    try:
        await service.start()

        def write(outcome) -> None:
            writer.write(str(outcome.path), outcome.description, outcome.error)

        report = _reporter(pace, progress, write)
        await describe_each(
            service, found, report, language=args.lang, detail=args.detail, in_flight=_in_flight(settings)
        )
    finally:
        progress.close()
        writer.close()
        await service.stop()
    warn(pace.summary())
    return 1 if pace.failed else 0


async def _find(settings: Settings, args: argparse.Namespace) -> int:
    """Describes the photos it has not described before, then prints the best matches for the request."""
    from altgen.composition import build_service
    from altgen.folder.describe import Pace, describe_each
    from altgen.folder.discover import photos_in
    from altgen.folder.find import StoredDescriptions, descriptions_file
    from altgen.folder.results import warn

    found = list(photos_in(args.photos, args.recursive))
    service = build_service(settings)
    stored = StoredDescriptions(descriptions_file(settings.cache_file()), settings.model, "en")
    described: dict[Path, str] = {}
    pace = Pace()
    progress = _progress(len(found), "reading photos")
    try:
        await service.start()

        def collect(outcome) -> None:
            if outcome.error is None:
                described[outcome.path] = outcome.description

        report = _reporter(pace, progress, collect)
        await describe_each(service, found, report, in_flight=_in_flight(settings), cache=stored)
        progress.close()
        if not described:
            warn("no photo could be described")
            return 1
        paths = list(described)
        ranked = await service.rank(args.request, [described[path] for path in paths])
    finally:
        progress.close()
        stored.close()
        await service.stop()
    if not ranked[0].match:
        print(f"no match for {args.request!r} among {len(paths)} photo(s)")
        return 0
    for found_photo in [r for r in ranked if r.match][: args.top]:
        print(f"{found_photo.relevance:6.2f}  {paths[found_photo.index]}: {described[paths[found_photo.index]]}")
    return 0


def _reporter(pace, progress, then: Callable) -> Callable:
    """Counts each photo's outcome, moves the progress bar, says a failure on stderr, then hands it on."""

    def report(outcome) -> None:
        pace.count(outcome)
        progress.update(1)
        if outcome.error is not None:
            progress.write(f"{outcome.path}: error: {outcome.error}", file=sys.stderr)
        then(outcome)

    return report


def _in_flight(settings: Settings) -> int:
    """Enough photos in flight to fill two batches, never more than the queue takes."""
    return max(2, min(settings.queue_capacity, 2 * settings.max_batch_size))


def _progress(total: int, what: str):
    """A progress bar on stderr when it is a terminal; silent otherwise."""
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit="photo", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)


def main(argv: list[str] | None = None) -> int:
    import altgen

    parser = argparse.ArgumentParser(prog="altgen", description=__doc__.replace("``", "'"))
    parser.add_argument("--version", action="version", version=f"altgen {altgen.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="run the HTTP service (port 8890 by default)", usage="altgen serve [OPTIONS]",
        description="Run the HTTP service. Every option also reads from its ALTGEN_* environment variable.",
    )
    _add_setting_flags(serve)
    describe = commands.add_parser(
        "describe",
        help="describe photos: files and folders",
        description="Describe each photo (files, or the photos in folders, found by content); results stream "
        "as each is done, on stdout or into --output.",
    )
    describe.add_argument("photos", nargs="+", type=Path, metavar="PATH", help="photo files and folders")
    describe.add_argument("-r", "--recursive", action="store_true", help="also the photos in subfolders")
    describe.add_argument("--lang", choices=["en", "ko"], default="en", help="language of the descriptions")
    describe.add_argument(
        "--detail", choices=["alt", "long"], default="alt", help="alt: one or two sentences; long: a fuller description"
    )
    describe.add_argument("--json", action="store_true", help="one JSON object per photo: file, description, error")
    describe.add_argument("-o", "--output", type=Path, help="write results to FILE as they are done: .jsonl or .csv")
    describe.add_argument("--resume", action="store_true", help="skip the photos --output already describes")
    _add_setting_flags(describe, DESCRIBE_SETTINGS)
    find = commands.add_parser(
        "find",
        help="find the photos that match a request (Korean or English)",
        description="Describe the photos not described before (kept by file content beside the embedding cache), "
        "then print those that match the request, best first, or 'no match'.",
    )
    find.add_argument("request", help='what to find, e.g. "고슴도치 사진" or "a hedgehog"')
    find.add_argument("photos", nargs="+", type=Path, metavar="PATH", help="photo files and folders")
    find.add_argument("-r", "--recursive", action="store_true", help="also the photos in subfolders")
    find.add_argument("--top", type=int, default=5, help="how many matches to print (default 5)")
    _add_setting_flags(find, DESCRIBE_SETTINGS + ("cache_path", "embedder", "glossary", "match_threshold"))
    args = parser.parse_args(argv)
    if getattr(args, "resume", False) and args.output is None:
        parser.error("--resume needs --output FILE (the file whose photos are skipped)")
    if getattr(args, "output", None) is not None and args.output.suffix.lower() not in (".jsonl", ".json", ".csv"):
        parser.error(f"--output {args.output}: the file name must end in .jsonl or .csv")

    try:
        settings = _settings(args)
    except ValidationError as exc:
        parser.error(_one_line(exc, args))
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
        return asyncio.run(_describe(settings, args) if args.command == "describe" else _find(settings, args))
    except ModelUnavailable as exc:
        print(f"altgen: cannot start: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("altgen: stopped; with --output and --resume a new run goes on from here", file=sys.stderr)
        return 130

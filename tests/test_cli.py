"""The command line's settings: one flag per setting in groups, flags over ALTGEN_* variables, help that
names both, --version, and a refused value answered in one line (exit status 2) before anything loads."""

from __future__ import annotations

import pytest

import altgen
import altgen.cli
from altgen.cli import FLAG_GROUPS, main
from altgen.settings import Settings


@pytest.fixture(autouse=True)
def wide_help(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # argparse wraps help to the terminal: one line per flag here


@pytest.fixture
def served(monkeypatch) -> list[Settings]:
    """The settings `altgen serve` would run with, instead of running it."""
    seen: list[Settings] = []
    monkeypatch.setattr(altgen.cli, "_serve", lambda settings: seen.append(settings) or 0)
    return seen


def refusal(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_a_flag_beats_its_variable_and_the_variable_beats_the_default(monkeypatch, served):
    main(["serve"])
    monkeypatch.setenv("ALTGEN_MAX_BATCH_SIZE", "7")
    main(["serve"])
    main(["serve", "--max-batch-size", "9", "--glossary", "false", "--dtype", "float32"])
    assert [s.max_batch_size for s in served] == [5, 7, 9]
    assert (served[-1].glossary, served[-1].dtype) == (False, "float32")


def test_serve_help_groups_every_setting_with_its_variable_common_first(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for name in Settings.model_fields:
        assert f"--{name.replace('_', '-')} " in help_text and f"env ALTGEN_{name.upper()};" in help_text
    headings = [line.rstrip(":") for line in help_text.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert headings[:2] == ["options", "common"] and set(FLAG_GROUPS) <= set(headings)
    assert "--dtype {auto,bfloat16,float16,float32}" in help_text  # a closed set of values is listed
    assert "--api-keys TEXT" in help_text and "default not set" in help_text  # a key's default is never shown


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"altgen {altgen.__version__}"


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["serve", "--max-batch-size", "0"], "altgen: error: --max-batch-size: Input should be greater than or equal to 1"),
        (["serve", "--port", "http"], "altgen: error: --port: Input should be a valid integer, unable to parse string as an integer"),
        (["describe", "a.jpg", "--output", "out.txt"], "altgen: error: --output out.txt: the file name must end in .jsonl or .csv"),
        (["describe", "a.jpg", "--resume"], "altgen: error: --resume needs --output FILE (the file whose photos are skipped)"),
    ],
)
def test_a_refused_flag_is_answered_in_one_line_with_the_rule(capsys, argv, line):
    assert refusal(capsys, argv) == line


def test_a_refused_variable_is_named_as_the_variable(capsys, monkeypatch):
    monkeypatch.setenv("ALTGEN_PORT", "http")
    assert refusal(capsys, ["serve"]).startswith("altgen: error: ALTGEN_PORT: Input should be a valid integer")


def test_serving_beyond_loopback_without_a_key_is_said_once(monkeypatch, caplog):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    for host, keys in (("0.0.0.0", None), ("127.0.0.1", None), ("0.0.0.0", "secret")):
        caplog.clear()
        altgen.cli._serve(Settings(host=host, api_keys=keys))
        warned = [r for r in caplog.records if "no API key" in r.getMessage()]
        assert len(warned) == (1 if keys is None and host == "0.0.0.0" else 0)

"""Where ``altgen describe`` writes: one line a photo on stdout, or a JSON Lines / CSV file written as it goes
(and read back by ``--resume`` to skip the photos already described)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import TextIO

FIELDS = ("file", "description", "error")


class ResultWriter:
    def __init__(self, output: Path | None, as_json: bool):
        self._as_json = as_json
        self._file: TextIO | None = None
        self._csv = None
        if output is not None:
            fresh = not output.exists() or output.stat().st_size == 0
            self._file = output.open("a", encoding="utf-8", newline="")
            if output.suffix.lower() == ".csv":
                self._csv = csv.DictWriter(self._file, FIELDS)
                if fresh:
                    self._csv.writeheader()

    def write(self, path: str, description: str | None, error: str | None) -> None:
        row = {"file": path, "description": description, "error": error}
        if self._file is None:
            if self._as_json:
                print(json.dumps(row, ensure_ascii=False), flush=True)
            elif description is not None:
                print(f"{path}: {description}", flush=True)
            return
        if self._csv is not None:
            self._csv.writerow(row)
        else:
            self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._file.flush()  # a Ctrl-C loses at most the photo being described

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def already_described(output: Path) -> set[str]:
    """The files an earlier run described (not those it failed on: they are tried again)."""
    if not output.exists():
        return set()
    with output.open(encoding="utf-8", newline="") as file:
        if output.suffix.lower() == ".csv":
            rows = list(csv.DictReader(file))
        else:
            rows = []
            for line in file:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:  # a line cut short by a crash
                    continue
    return {row["file"] for row in rows if row.get("description")}


def warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

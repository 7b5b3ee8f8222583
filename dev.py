#!/usr/bin/env python3
"""Set up and run Pointgate with nothing but Python 3.11+ and pip.

    python3 dev.py demo    # install, migrate, seed demo data, serve GraphiQL on :8000
    python3 dev.py test    # install, run the whole test suite (SQLite and PostgreSQL)

The first run creates .venv and installs the pinned versions from constraints.txt; later runs
reinstall only when pyproject.toml or constraints.txt changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".pointgate-installed"


def _requirements_digest() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    wanted = _requirements_digest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing dependencies (pinned by constraints.txt) ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-c", str(ROOT / "constraints.txt"), "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "setup"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_environment()
    if command == "setup":
        return 0
    if command == "demo":
        program = [str(BIN / "pointgate"), "demo", *rest]
    else:
        program = [str(BIN / "python"), "-m", "pytest", *rest]
    os.chdir(ROOT)
    if os.name == "posix":
        # Become the program: a signal to this process (Ctrl-C, SIGTERM from a supervisor)
        # reaches the server itself, and nothing is left running on its port.
        os.execv(program[0], program)
    return subprocess.call(program)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

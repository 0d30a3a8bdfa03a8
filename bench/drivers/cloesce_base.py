"""The native cloesce driver with a second binary, $CLOESCE_BASE_BIN, so
that two builds of cloesce (say, main and a branch) take turns in one
paired run: `--tools ninja,cloesce-base,cloesce`. Skipped while the
variable is unset or names no file.
"""
import os
from . import cloesce as _native
from .cloesce import DECLARED, CONTENT_BASED, q, render, clean_state  # noqa: F401

NAME = "cloesce-base"
BIN = os.path.abspath(os.environ.get("CLOESCE_BASE_BIN") or "/nonexistent")


def available():
    return (os.path.exists(BIN), "set CLOESCE_BASE_BIN to a cloesce binary (now %s)" % BIN)


def version():
    return "%s (%s)" % (_native.subprocess.run([BIN, "--version"], capture_output=True,
                                                text=True).stdout.strip(), BIN)


def build_cmd(spec, ws, pkg):
    argv, cwd, extra = _native.build_cmd(spec, ws, pkg)
    return ([BIN] + argv[1:], cwd, extra)

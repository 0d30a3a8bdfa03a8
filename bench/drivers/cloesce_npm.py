"""Driver for cloesce's npm package (the engine compiled to WASM, driven by Node).

Same pipeline file, state directory and CLI as the native driver (render and
clean_state are reused from drivers/cloesce.py); only the command differs:
`node <package>/bin/cloesce.js run ...`. The package is
$CLOESCE_NPM_PKG, else this repo's npm-wrapper/package; the driver is
skipped with a message while its bin/cloesce.js or wasm/ folder is missing.
"""
import os
import subprocess
from . import JOBS
from .cloesce import REPO, DECLARED, CONTENT_BASED, render, clean_state  # noqa: F401

NAME = "cloesce-npm"
PKG = os.path.abspath(os.environ.get("CLOESCE_NPM_PKG") or os.path.join(REPO, "npm-wrapper", "package"))
JS = os.path.join(PKG, "bin", "cloesce.js")
WASM = os.path.join(PKG, "wasm")


def available():
    missing = [p for p in (JS, WASM) if not os.path.exists(p)]
    if missing:
        return (False, "npm package not built: missing %s" % ", ".join(missing))
    return (True, "")


def version():
    return subprocess.run(["node", JS, "--version"], capture_output=True, text=True).stdout.strip()


def build_cmd(spec, ws, pkg):
    return (["node", JS, "run", "--jobs", JOBS, "-q"], pkg, {})

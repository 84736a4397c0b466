"""Byte-compile the project and its libraries before a bench times commands.

An installed package has current ``.pyc`` files (``pip install`` compiles them).  A uv
venv, an editable install's link tree and a source file edited since the last compile
have none; with ``PYTHONDONTWRITEBYTECODE`` set (as in CI and these workspaces) every
timed process would compile them again, time an installed user's command never spends
(and the floors, whose libraries are compiled, would not either).
"""

from __future__ import annotations

import compileall
import sysconfig

import personas_as_code


def precompile() -> None:
    """Compile the bytecode of this project and of its libraries, as an install does."""
    paths = sysconfig.get_paths()
    for folder in sorted({paths["purelib"], paths["platlib"], *personas_as_code.__path__}):
        compileall.compile_dir(folder, quiet=2, workers=0)

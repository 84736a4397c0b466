"""personas-as-code: AI personas as YAML in git, reconciled into a ScaiPersona catalogue.

The repository keeps its folders at the top level (``schemas/``, ``sync/``,
``catalogue/``, ``mcp_server/``, ...); the build maps each of them under this one
package, so installing the tool adds no generic top-level import name such as
``catalogue`` or ``sync`` that another distribution may own.
"""

import os
import sys


def _other_folders() -> list[str]:
    """The other ``personas_as_code`` folders on ``sys.path``, as ``pkgutil.extend_path``
    finds them (without its import cost, which a fast command's start would pay)."""
    here = os.path.realpath(__path__[0])
    folders = (os.path.join(entry or os.curdir, __name__) for entry in sys.path)
    return [f for f in folders if os.path.isdir(f) and os.path.realpath(f) != here]


# In a checkout this folder holds only this file: the subpackages are the top-level folders,
# which the strict editable install links into a tree under build/ (README). Where the
# repository root comes first on sys.path (python -c or -m, pytest, run from the root), this
# folder shadows that tree's; adding the tree's folder to __path__ finds the subpackages.
__path__ += _other_folders()


def __getattr__(name: str) -> str:
    # ``__version__`` is read from the installed metadata on first use: importlib.metadata
    # (and the email parser behind it) costs more than a fast command's whole start.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("personas-as-code")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"

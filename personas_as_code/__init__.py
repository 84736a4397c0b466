"""personas-as-code: AI personas as YAML in git, reconciled into a ScaiPersona catalogue.

The repository keeps its folders at the top level (``schemas/``, ``sync/``,
``catalogue/``, ``mcp_server/``, ...); the build maps each of them under this one
package, so installing the tool adds no generic top-level import name such as
``catalogue`` or ``sync`` that another distribution may own.
"""


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

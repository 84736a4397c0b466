"""personas-as-code: AI personas as YAML in git, reconciled into a ScaiPersona catalogue.

The repository keeps its folders at the top level (``schemas/``, ``sync/``,
``catalogue/``, ``mcp_server/``, ...); the build maps each of them under this one
package, so installing the tool adds no generic top-level import name such as
``catalogue`` or ``sync`` that another distribution may own.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("personas-as-code")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"

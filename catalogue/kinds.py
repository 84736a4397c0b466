"""Which kind of catalogue an object is, without importing the embedded one.

The embedded catalogue pulls in SQLAlchemy and SQLModel (about a second of CPU at
start-up); a command talking to a remote catalogue over HTTP never needs them.  An
``EmbeddedCatalogue`` can only exist once its module was imported, so when the
module is not in ``sys.modules`` the answer is "not embedded" without importing it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from personas_as_code.catalogue.embedded import EmbeddedCatalogue

EMBEDDED_MODULE = "personas_as_code.catalogue.embedded"


def as_embedded(catalogue: object) -> EmbeddedCatalogue | None:
    """``catalogue`` when it is an ``EmbeddedCatalogue``, else None (imports nothing)."""
    module = sys.modules.get(EMBEDDED_MODULE)
    if module is not None and isinstance(catalogue, module.EmbeddedCatalogue):
        return catalogue
    return None

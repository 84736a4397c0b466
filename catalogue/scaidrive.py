"""The caller's ScaiDrive shares, as the embedded catalogue answers them."""

from __future__ import annotations

from typing import Any

from personas_as_code.catalogue.identity import Caller
from personas_as_code.knowledge_index import store as knowledge_store
from personas_as_code.schemas.errors import ScaiDriveNotConfigured, ScaiDriveTokenExchangeFailed
from sqlalchemy.orm import Session


def scaidrive_shares(
    session: Session, caller: Caller, base_url: str | None
) -> list[dict[str, Any]]:
    """The caller's ScaiDrive shares.

    Without a ScaiDrive base URL the embedded catalogue is its own ScaiDrive: the
    shares are the ``scaidrive`` knowledge folders the repo defines and ``apply``
    indexed for the caller's tenant; with none, no ScaiDrive is configured at all:
    ``SCAIDRIVE_NOT_CONFIGURED`` (503), as the ScaiPersona API answers.  With a base
    URL, shares live in that ScaiDrive, and the embedded catalogue cannot exchange its
    API keys for ScaiDrive-scoped tokens: ``SCAIDRIVE_TOKEN_EXCHANGE_FAILED`` (502),
    as ScaiGrid answers for an API key without ScaiDrive scope.
    """
    if not base_url:
        conn = session.connection()
        shares = (
            knowledge_store.list_sources(conn, caller.tenant_id, source_type="scaidrive")
            if knowledge_store.tables_exist(conn.engine)
            else []
        )
        if not shares:
            raise ScaiDriveNotConfigured(
                "No ScaiDrive is configured (catalogue serve --scaidrive-url) and no "
                "scaidrive knowledge folder is indexed for this tenant"
            )
        counts = knowledge_store.document_counts(conn, caller.tenant_id, "scaidrive")
        return [
            {
                "id": share.source_id,
                "name": share.name or share.source_id,
                "description": share.description,
                "document_count": counts.get(share.source_id, 0),
            }
            for share in shares
        ]
    raise ScaiDriveTokenExchangeFailed(
        "Could not exchange the caller's token for a ScaiDrive token "
        "(API keys of the embedded catalogue carry no ScaiDrive scope)",
        details={"scaidrive_base_url": base_url},
    )

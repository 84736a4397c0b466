"""Build a small real knowledge index for inference tests (``knowledge_index.indexer``)."""

from __future__ import annotations

import hashlib

from personas_as_code.knowledge_index.embeddings import WordLlamaEmbedder
from personas_as_code.knowledge_index.indexer import Document, SourceDocuments, index_sources
from sqlalchemy import Engine

HELP_DOCS = {
    "knowledge/col_help/password.md": (
        "# Resetting your password\n\nOpen Settings, choose Security and press "
        "'Reset password'. We email a reset link that is valid for 30 minutes."
    ),
    "knowledge/col_help/billing.md": (
        "# Invoices and billing\n\nInvoices are sent on the first day of each month. "
        "You can download every invoice as a PDF from the Billing page."
    ),
    "knowledge/col_help/export.md": (
        "# Exporting data\n\nUse Export in the project menu to download your data as CSV."
    ),
}
SECRET_DOCS = {
    "knowledge/col_secret/password.md": (
        "# Internal password policy\n\nReset password tickets go to the on-call engineer."
    ),
}


def index_docs(
    engine: Engine, tenant_id: str, sources: dict[str, dict[str, str]], repo: str = "acme/x"
) -> None:
    """Index each source id's documents (path → text) as collections of ``tenant_id``.

    One call is the repo's whole knowledge: sources the repo indexed before and
    that are not named are dropped, as ``apply`` does.
    """
    desired = [
        SourceDocuments(
            "collection",
            source_id,
            [
                Document(path, text, hashlib.sha256(text.encode()).hexdigest())
                for path, text in docs.items()
            ],
        )
        for source_id, docs in sources.items()
    ]
    index_sources(engine, tenant_id, repo, desired, WordLlamaEmbedder())

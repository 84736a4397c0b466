"""The knowledge index: the repo's knowledge folders (``knowledge/<source_id>/``),
chunked, embedded and indexed into the embedded catalogue's database, and retrieved
for a persona's sources.

Modules, one job each: ``terms`` (query words), ``chunking`` (documents -> chunks),
``embeddings`` (offline wordllama or an OpenAI-compatible ``/v1/embeddings``),
``store`` (tables, full-text and vector search), ``indexer`` (incremental indexing by
content hash) and ``retrieval`` (a persona's retrieval: search types, weights,
``min_score``, strategies).  Nothing here imports the catalogue, sync or inference.
"""

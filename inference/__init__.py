"""Inference: the persona enricher, the model backends and the chat orchestration.

``enricher`` turns a persona and a conversation into the messages and params a
backend gets (system prompt, retrieved context through ``context_template``,
``default_params`` under the request's params); ``backends`` builds the backend a
catalogue's backend model names (``mirror`` offline, ``openai`` for any
OpenAI-compatible endpoint); ``chat`` runs one call through the backends in
priority order.  Nothing here knows the catalogue: the catalogue passes in what
it resolved (``catalogue.chat``).
"""

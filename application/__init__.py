"""The application layer: what the CLI and the MCP server both do, without either.

``service.PersonaService`` is the entry point for one repo: reads, search and export
of the working tree (``index``, ``export``), preview and run (``preview``), validation,
and drafts as git branches (``drafts`` and the ``draft_*`` modules beside it);
``plan_sync`` and ``persona_test_run`` review a draft before it is proposed.  The MCP
server (``mcp_server``) and the CLI (``cli``) adapt these to their protocols; nothing
here imports either.
"""

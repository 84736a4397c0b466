"""The sandbox run: one real call for a persona file (the working tree's, a draft's or
another commit's), nothing published or persisted.  Used by ``personas run``, the MCP
``run_persona`` tool and persona tests; it sits below ``mcp_server`` and above the
catalogue and inference packages."""

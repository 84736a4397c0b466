"""The application layer: what the CLI and the MCP server both do, without either.

Reads, search and export of a persona repo's working tree (``index``), drafts as git
branches (``drafts`` and the modules beside it), preview, run and validate
(``service``).  The MCP server (``mcp_server``) and the CLI (``cli``) adapt these
to their protocols; nothing here imports either.
"""

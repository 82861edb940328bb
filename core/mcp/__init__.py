"""pipebot as an MCP client (DESIGN §12): the URL rule (urls), the HTTP client pinned to the
checked address (transport), listing and calling tools (client), the workspace's registry
(servers), the tool-list cache (cache), tool names (names), and the tools a step offers and
runs (tools). Texts people and models read are in texts."""

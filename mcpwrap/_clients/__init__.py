"""MCP clients' configuration files: where they are, what is wrapped, surgical edits and safe writes."""

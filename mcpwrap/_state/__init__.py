"""State kept under MCPWRAP_HOME that a person decides: pinned definitions, pending approvals, overrides."""

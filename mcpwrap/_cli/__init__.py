"""The command line: one thin module per command group (argument parsing and printing only)."""

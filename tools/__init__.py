"""The tool catalogue: one module per target system, each tool a typed function."""

"""The study layer: comparisons run over many mappings, nets or solvers (docs/architecture.md)."""

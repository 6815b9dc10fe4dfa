"""The offline models' builders (one module per model family) and their shared helpers (packages)."""

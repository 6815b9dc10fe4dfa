"""Custom Haystack components of the service, one per file, grouped by family."""

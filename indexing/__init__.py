"""Ingestion: run the `indexing` graph (pipelines/indexing/indexing.yml) over files and folders."""

from indexing.index_files import IndexReport, index_paths

__all__ = ["IndexReport", "index_paths"]

"""Ingestion: run the `indexing` graph (pipelines/indexing/indexing.yml) over files and folders, incrementally."""

from indexing.index_files import Indexer, IndexReport, index_paths

__all__ = ["IndexReport", "Indexer", "index_paths"]

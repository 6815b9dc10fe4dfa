"""Ingestion: run the `indexing` graph (pipelines/indexing/indexing.yml) over files and folders, incrementally."""

from indexing.index_files import Indexer, IndexProgress, IndexReport, ProgressBar, index_paths

__all__ = ["IndexProgress", "IndexReport", "Indexer", "ProgressBar", "index_paths"]

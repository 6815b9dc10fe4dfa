from components.document_stores.local_bm25.document_store import LocalBM25DocumentStore

__all__ = ["LocalBM25DocumentStore"]

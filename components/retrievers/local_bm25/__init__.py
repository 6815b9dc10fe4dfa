from components.retrievers.local_bm25.retriever import LocalBM25Retriever

__all__ = ["LocalBM25Retriever"]

from components.retrievers.qdrant_edge.retriever import QdrantEdgeEmbeddingRetriever

__all__ = ["QdrantEdgeEmbeddingRetriever"]

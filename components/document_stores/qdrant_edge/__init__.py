from components.document_stores.qdrant_edge.document_store import QdrantEdgeDocumentStore, QdrantEdgeStoreError

__all__ = ["QdrantEdgeDocumentStore", "QdrantEdgeStoreError"]

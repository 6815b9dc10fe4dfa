from components.retrievers.fault_tolerant_retriever import FaultTolerantRetriever, RetrievalUnavailableError

__all__ = ["FaultTolerantRetriever", "RetrievalUnavailableError"]

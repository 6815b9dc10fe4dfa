from components.retrievers.elasticsearch_french.retriever import FrenchElasticsearchBM25Retriever

__all__ = ["FrenchElasticsearchBM25Retriever"]

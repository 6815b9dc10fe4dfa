from components.document_stores.elasticsearch_french.document_store import FrenchElasticsearchDocumentStore

__all__ = ["FrenchElasticsearchDocumentStore"]

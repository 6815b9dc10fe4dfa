from components.writers.replacing_document_writer import ReplacingDocumentWriter

__all__ = ["ReplacingDocumentWriter"]

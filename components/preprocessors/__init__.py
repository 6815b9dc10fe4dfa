from components.preprocessors.document_metadata_resolver import DocumentMetadataResolver
from components.preprocessors.figure_detector import FigureDetector
from components.preprocessors.structured_document_splitter import StructuredDocumentSplitter

__all__ = ["DocumentMetadataResolver", "FigureDetector", "StructuredDocumentSplitter"]

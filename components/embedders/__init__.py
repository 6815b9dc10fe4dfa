from components.embedders.cached_text_embedder import CachedTextEmbedder
from components.embedders.onnx_document_embedder import OnnxDocumentEmbedder
from components.embedders.onnx_text_embedder import OnnxTextEmbedder

__all__ = ["CachedTextEmbedder", "OnnxDocumentEmbedder", "OnnxTextEmbedder"]

from components.embedders.cached_text_embedder import CachedTextEmbedder

__all__ = ["CachedTextEmbedder"]

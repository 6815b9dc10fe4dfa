from components.rankers.code_focus import CodeFocus
from components.rankers.cross_encoder_ranker import CrossEncoderRanker
from components.rankers.date_focus import DateFocus
from components.rankers.metadata_booster import MetadataBooster
from components.rankers.numeric_chunk_prioritizer import NumericChunkPrioritizer

__all__ = ["CodeFocus", "CrossEncoderRanker", "DateFocus", "MetadataBooster", "NumericChunkPrioritizer"]

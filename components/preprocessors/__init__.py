from components.preprocessors.front_matter_extractor import FrontMatterExtractor

__all__ = ["FrontMatterExtractor"]

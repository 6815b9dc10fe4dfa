from components.classifiers.query_classifier import QueryClassifier

__all__ = ["QueryClassifier"]

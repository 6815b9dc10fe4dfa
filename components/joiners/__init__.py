from components.joiners.hybrid_fusion_joiner import HybridFusionJoiner

__all__ = ["HybridFusionJoiner"]

from .feature_encoder import FeatureEncoder

__all__ = ['FeatureEncoder']

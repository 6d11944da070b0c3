from .crop_classifier import CropClassifier

__all__ = ['CropClassifier']

"""Visualisation of mmpfcn (registered in MMDetection's VISUALIZERS)."""
from .panoptic_visualizer import PanopticVisualizer

__all__ = ['PanopticVisualizer']

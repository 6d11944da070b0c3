"""Version of the mmpfcn package."""
__version__ = '0.1.0'

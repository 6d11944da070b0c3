from .weighted_dice_loss import WeightedDiceLoss

__all__ = ['WeightedDiceLoss']

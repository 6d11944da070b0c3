"""Multiply a flat set of kernels with the feature map of the image each one belongs to."""
import torch
from torch import Tensor


def per_image_matmul(kernels: Tensor, img_inds: Tensor, feats: Tensor) -> Tensor:
    """Dynamic 1x1 convolution of kernels with their own image's features.

    Kernels of all images are scattered into a zero-padded ``(B, M, ..., C)``
    block (M = most kernels of any image), multiplied with the ``(B, C, HW)``
    features in one batched matmul, and gathered back, so no Python loop over
    images or instances is needed.

    Args:
        kernels (Tensor): ``(N, *, C)`` kernels; ``*`` are extra dims kept as is.
        img_inds (Tensor): ``(N,)`` image index of each kernel.
        feats (Tensor): ``(B, C, HW)`` flattened features.

    Returns:
        Tensor: ``(N, *, HW)`` mask logits.
    """
    num = kernels.shape[0]
    num_imgs, channels, hw = feats.shape
    extra = kernels.shape[1:-1]
    if num == 0:
        return kernels.new_zeros((0, *extra, hw))
    order = torch.argsort(img_inds, stable=True)
    sorted_imgs = img_inds[order]
    counts = torch.bincount(sorted_imgs, minlength=num_imgs)
    starts = torch.cumsum(counts, 0) - counts
    ranks = torch.arange(num, device=kernels.device) - starts[sorted_imgs]
    max_count = int(counts.max())
    flat = kernels[order].reshape(num, -1, channels)
    padded = flat.new_zeros((num_imgs, max_count, flat.shape[1], channels))
    padded[sorted_imgs, ranks] = flat
    logits = torch.bmm(padded.reshape(num_imgs, -1, channels), feats)
    logits = logits.reshape(num_imgs, max_count, -1, hw)[sorted_imgs, ranks]
    out = torch.empty_like(logits)
    out[order] = logits
    return out.reshape(num, *extra, hw)

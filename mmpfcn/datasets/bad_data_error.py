"""The error raised for unusable data; its message names the file or the
annotation at fault."""


class BadDataError(ValueError):
    """A data file or annotation that cannot be used.

    Raised by :class:`~mmpfcn.datasets.CheckedCocoPanopticDataset` when the
    dataset is loaded and by the checked loading transforms when a sample is
    read. The dataset's ``skip_bad_samples`` option skips training samples
    that raise it.
    """

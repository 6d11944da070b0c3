"""Report, at the end of training, how many bad samples were skipped."""
from typing import Iterator

import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_reduce
from mmengine.hooks import Hook


def inner_datasets(dataset) -> Iterator:
    """``dataset`` and the datasets inside dataset wrappers."""
    yield dataset
    for inner in getattr(dataset, 'datasets', []):
        yield from inner_datasets(inner)
    if hasattr(dataset, 'dataset'):
        yield from inner_datasets(dataset.dataset)


@HOOKS.register_module()
class BadSampleReportHook(Hook):
    """Log the number of training samples skipped by datasets with
    ``skip_bad_samples=True`` (see ``CheckedCocoPanopticDataset``), summed
    over dataloader workers and ranks. The skip warnings name the files."""

    priority = 'LOWEST'

    def after_train(self, runner) -> None:
        datasets = [
            dataset
            for dataset in inner_datasets(runner.train_dataloader.dataset)
            if getattr(dataset, 'skip_bad_samples', False)
        ]
        skipped = torch.tensor(
            sum(dataset.num_skipped for dataset in datasets))
        all_reduce(skipped, op='sum')
        if datasets:
            runner.logger.warning(
                f'Skipped {int(skipped)} bad training sample(s) '
                '(skip_bad_samples=True); the warnings above name them.')

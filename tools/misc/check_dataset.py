"""Check the data of a config's datasets before training on them.

Each annotation file, image and panoptic PNG of the chosen split is checked
as training and testing would, but all of them, without stopping at the
first problem:

- the annotation file, by the rules the dataset applies when it loads
  (``mmpfcn.datasets.panoptic_annotation_rules``, through
  ``CheckedCocoPanopticDataset.check_data_list``): JSON structure, ids,
  categories against the dataset's classes, file names, missing files (the
  images of a file with structural problems are read once it has none);
- every image and panoptic PNG, by the checked loading transforms
  (``LoadCheckedImageFromFile``, ``LoadCheckedPanopticAnnotations``): it
  decodes, has the JSON's size, and the PNG's segment ids are those of its
  annotation.

Each problem is printed on a line of its own, naming its file, and their
count at the end (pycocotools' progress goes to stderr). The exit status is 1
when anything is wrong and 0 when the data is clean. A config naming
MMDetection's ``CocoPanopticDataset`` is checked as
``CheckedCocoPanopticDataset``.

Example::

    python tools/misc/check_dataset.py CONFIG --split train
"""
import argparse
import contextlib
import sys
from typing import List, Optional, Tuple

from mmdet.datasets import CocoPanopticDataset
from mmdet.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmpfcn  # noqa: F401  (registers the datasets and transforms)
from mmpfcn.apis import load_config
from mmpfcn.apis.cli import CfgOptionsAction
from mmpfcn.apis.config_validation import leaf_datasets
from mmpfcn.datasets import (BadDataError, CheckedCocoPanopticDataset,
                             LoadCheckedImageFromFile,
                             LoadCheckedPanopticAnnotations)

SPLITS = ('train', 'val', 'test')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--split',
        choices=SPLITS + ('all', ),
        default='all',
        help='the dataloader whose datasets to check; all: each one the '
        'config has (default)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override settings of the config, key=value pairs, e.g. '
        'train_dataloader.dataset.data_root=data/coco/')
    return parser.parse_args(argv)


def build_unloaded(dataset_cfg: dict) -> CheckedCocoPanopticDataset:
    """The dataset of ``dataset_cfg``, not loaded yet, checking that its
    files exist; MMDetection's ``CocoPanopticDataset`` is built as
    :class:`CheckedCocoPanopticDataset` with the same arguments."""
    kind = dataset_cfg['type']
    if isinstance(kind, str):
        kind = DATASETS.get(kind)
    if kind is CocoPanopticDataset:
        kind = CheckedCocoPanopticDataset
    if not (isinstance(kind, type)
            and issubclass(kind, CheckedCocoPanopticDataset)):
        raise SystemExit(
            f'check_dataset.py checks COCO panoptic datasets '
            f'(CheckedCocoPanopticDataset, its subclasses, MMDetection\'s '
            f'CocoPanopticDataset), not {dataset_cfg["type"]}')
    return DATASETS.build(
        dict(dataset_cfg, type=kind, lazy_init=True, check_files=True))


def dataset_problems(
        dataset: CheckedCocoPanopticDataset) -> Tuple[int, List[str]]:
    """The number of images of ``dataset`` whose files were read, and every
    problem of its annotation file, images and panoptic PNGs."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            data_list, problems = dataset.check_data_list()
    except BadDataError as error:
        return 0, [str(error)]
    loaders = (LoadCheckedImageFromFile(backend_args=dataset.backend_args),
               LoadCheckedPanopticAnnotations(
                   with_bbox=False,
                   with_label=False,
                   with_mask=False,
                   backend_args=dataset.backend_args))
    for data_info in data_list:
        # The PNG is checked against the JSON's size, whatever the image's.
        shape = (data_info['height'], data_info['width'])
        for loader in loaders:
            try:
                loader(dict(data_info, ori_shape=shape))
            except BadDataError as error:
                problems.append(str(error))
    return len(data_list), problems


def check(cfg: Config, splits: Tuple[str, ...]) -> int:
    """Print the problems of the datasets of ``splits`` in ``cfg`` and a
    line per dataset; return the number of problems."""
    checked = []
    total = 0
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            print(f'{split}: the config has no {split}_dataloader')
            continue
        for dataset_cfg, path in leaf_datasets(loader['dataset'],
                                               f'{split}_dataloader.dataset'):
            if dataset_cfg in checked:
                print(f'{path}: the same dataset as above')
                continue
            checked.append(dataset_cfg)
            dataset = build_unloaded(dataset_cfg)
            num_images, problems = dataset_problems(dataset)
            for problem in problems:
                print(problem)
            print(f'{path} ({dataset.ann_file}): {num_images} image(s) '
                  f'read, {len(problems)} problem(s)')
            total += len(problems)
    return total


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    if args.split != 'all' and not cfg.get(f'{args.split}_dataloader'):
        raise SystemExit(
            f'{args.config} has no {args.split}_dataloader to check')
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    total = check(cfg, SPLITS if args.split == 'all' else (args.split, ))
    if total:
        print(f'{total} problem(s) found: fix them before training')
        return 1
    print('No problem found')
    return 0


if __name__ == '__main__':
    sys.exit(main())

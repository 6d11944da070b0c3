"""Prepare Cityscapes panoptic for mmpfcn with cityscapesscripts' own
converter (``csCreatePanopticImgs``).

    python tools/dataset_converters/cityscapes.py data/cityscapes

reads ``gtFine/<split>/<city>/*_gtFine_instanceIds.png`` of the official
download (``gtFine_trainvaltest.zip``; images in ``leftImg8bit_trainvaltest.zip``)
and writes, next to them, ``gtFine/cityscapes_panoptic_<split>.json`` and
``gtFine/cityscapes_panoptic_<split>/``, the files
``configs/_base_/datasets/cityscapes_panoptic.py`` reads. Each split is
converted into a temporary folder and moved into place when complete, so an
interrupted run leaves no half-written JSON or PNG folder.
"""
import argparse
import glob
import os
import os.path as osp
import tempfile

from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('cityscapes_root',
                        help='folder holding leftImg8bit/ and gtFine/')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'],
                        help='splits to convert (default: train val)')
    return parser.parse_args()


def check_split(root: str, split: str) -> int:
    """Number of annotated images of ``split``; a clear error when its
    images or instance maps are missing."""
    images = osp.join(root, 'leftImg8bit', split)
    if not osp.isdir(images):
        raise SystemExit(f'{images} is missing: unpack leftImg8bit_trainvaltest.zip into '
                         f'{root}')
    maps = glob.glob(osp.join(root, 'gtFine', split, '*', '*_gtFine_instanceIds.png'))
    if not maps:
        raise SystemExit(f'no {osp.join(root, "gtFine", split, "<city>", "*_gtFine_instanceIds.png")}: '
                         f'unpack gtFine_trainvaltest.zip into {root}')
    return len(maps)


def convert_split(root: str, split: str) -> None:
    """Run the official converter for ``split`` into a temporary folder of
    ``gtFine`` and move its JSON and PNG folder into place."""
    gt_fine = osp.join(root, 'gtFine')
    name = f'cityscapes_panoptic_{split}'
    with tempfile.TemporaryDirectory(dir=gt_fine, prefix=f'.{name}.') as staging:
        convert2panoptic(cityscapesPath=gt_fine, outputFolder=staging, useTrainId=False,
                         setNames=[split])
        target = osp.join(gt_fine, name)
        if osp.isdir(target):  # the previous output goes with the staging folder
            os.replace(target, osp.join(staging, 'previous'))
        os.replace(osp.join(staging, name), target)
        os.replace(osp.join(staging, f'{name}.json'), osp.join(gt_fine, f'{name}.json'))


def main() -> None:
    args = parse_args()
    counts = {split: check_split(args.cityscapes_root, split) for split in args.splits}
    for split, count in counts.items():
        print(f'[cityscapes] {split}: converting {count} images')
        convert_split(args.cityscapes_root, split)
        print(f'\n[cityscapes] {split}: wrote gtFine/cityscapes_panoptic_{split}.json and '
              f'gtFine/cityscapes_panoptic_{split}/')


if __name__ == '__main__':
    main()

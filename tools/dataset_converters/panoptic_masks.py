"""Convert per-image semantic and instance masks to COCO panoptic files, and
COCO panoptic files to such masks.

The mask format and the classes file are described in
``mmpfcn/datasets/panoptic_masks.py`` and docs/custom_dataset.md.

Example::

    python tools/dataset_converters/panoptic_masks.py to-coco \\
        data/my_dataset/train data/my_dataset/masks/train \\
        data/my_dataset/classes.json \\
        data/my_dataset/annotations/panoptic_train.json \\
        data/my_dataset/annotations/panoptic_train
    python tools/dataset_converters/panoptic_masks.py to-masks \\
        data/coco/annotations/panoptic_val2017.json \\
        data/coco/annotations/panoptic_val2017 data/coco_masks/val2017
"""
import argparse
import sys

from mmpfcn.datasets import (BadDataError, convert_mask_folder,
                             export_mask_folder)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)
    to_coco = commands.add_parser(
        'to-coco', help='masks to a COCO panoptic JSON and PNG folder')
    to_coco.add_argument('image_dir', help='folder of the images')
    to_coco.add_argument(
        'mask_dir', help='folder holding semantic/ and instances/')
    to_coco.add_argument(
        'classes_file', help='JSON list of {"name", "isthing"} per class')
    to_coco.add_argument('out_json', help='COCO panoptic JSON to write')
    to_coco.add_argument(
        'out_png_dir', help='folder of panoptic PNGs to write')
    to_masks = commands.add_parser(
        'to-masks', help='a COCO panoptic JSON and PNG folder to masks')
    to_masks.add_argument('panoptic_json', help='COCO panoptic JSON')
    to_masks.add_argument('png_dir', help='folder of its panoptic PNGs')
    to_masks.add_argument(
        'out_dir', help='folder to write semantic/, instances/ and '
        'classes.json into')
    for command in (to_coco, to_masks):
        command.add_argument(
            '--ignore-index',
            type=int,
            default=255,
            help='semantic value of void pixels (default: 255)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        if args.command == 'to-coco':
            counts = convert_mask_folder(args.image_dir, args.mask_dir,
                                         args.classes_file, args.out_json,
                                         args.out_png_dir, args.ignore_index)
            written = f'{args.out_json} and {args.out_png_dir}'
        else:
            counts = export_mask_folder(args.panoptic_json, args.png_dir,
                                        args.out_dir, args.ignore_index)
            written = args.out_dir
    except BadDataError as error:
        sys.exit(f'error: {error}')
    print(f'wrote {counts["images"]} images, {counts["segments"]} segments '
          f'({counts["crowd_segments"]} crowd) to {written}')


if __name__ == '__main__':
    main()

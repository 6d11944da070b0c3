"""Generate the synthetic COCO-panoptic dataset (shapes on textures).

Example::

    python projects/synthetic/tools/generate_synthetic_panoptic.py \
        --out-dir data/synthetic --num-train 3000 --num-val 100 --size 256

Skips the work when ``--out-dir`` already holds a complete dataset made with
the same parameters, unless ``--force``.
"""
import argparse
import os
import time

from projects.synthetic.synthetic_panoptic import (DATA_ROOT,
                                                   DEFAULT_NUM_TRAIN,
                                                   DEFAULT_NUM_VAL,
                                                   generate_synthetic_panoptic)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default=DATA_ROOT)
    parser.add_argument('--num-train', type=int, default=DEFAULT_NUM_TRAIN)
    parser.add_argument('--num-val', type=int, default=DEFAULT_NUM_VAL)
    parser.add_argument(
        '--size', type=int, default=256, help='square image side in pixels')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--force', action='store_true', help='regenerate a complete output')
    parser.add_argument(
        '--workers',
        type=int,
        default=os.cpu_count() or 1,
        help='processes rendering images (the files do not depend on it)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    generated = generate_synthetic_panoptic(
        args.out_dir,
        num_train=args.num_train,
        num_val=args.num_val,
        size=args.size,
        seed=args.seed,
        force=args.force,
        workers=args.workers)
    if generated:
        print(f'wrote {args.num_train} train and {args.num_val} val images '
              f'({args.size}x{args.size}) to {args.out_dir} in '
              f'{time.perf_counter() - start:.1f} s')
    else:
        print(f'{args.out_dir} is complete for these parameters; skipped '
              '(use --force to regenerate)')


if __name__ == '__main__':
    main()

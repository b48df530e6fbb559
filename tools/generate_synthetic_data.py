"""Write the built-in synthetic multi-task dataset to disk.

    python tools/generate_synthetic_data.py [--out-dir data/synthetic]
        [--num-train 1000] [--num-val 100] [--img-size 128 | H W]
        [--seed 0] [--overwrite]
"""
import argparse
import os.path as osp
import sys

try:
    import mmmtl  # noqa: F401
except ImportError:
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmmtl.datasets.synthetic import generate_synthetic_dataset  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Generate the synthetic detection + segmentation dataset')
    p.add_argument('--out-dir', default='data/synthetic')
    p.add_argument('--num-train', type=int, default=1000)
    p.add_argument('--num-val', type=int, default=100)
    p.add_argument('--img-size', type=int, nargs='+', default=[128],
                   metavar='SIZE', help='H W, or one number for a square')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--overwrite', action='store_true',
                   help='replace an existing dataset in --out-dir')
    args = p.parse_args(argv)
    if len(args.img_size) not in (1, 2):
        p.error('--img-size takes one number (square) or two (H W)')
    if min(args.img_size) < 32:
        p.error(f'--img-size must be at least 32, got {args.img_size}')
    if args.num_train < 1 or args.num_val < 1:
        p.error('--num-train and --num-val must be at least 1')
    return args


def main(argv=None):
    args = parse_args(argv)
    size = args.img_size * 2 if len(args.img_size) == 1 else args.img_size
    try:
        meta = generate_synthetic_dataset(
            args.out_dir, num_train=args.num_train, num_val=args.num_val,
            img_size=tuple(size), seed=args.seed, overwrite=args.overwrite)
    except FileExistsError as e:
        sys.exit(f'error: {e}')
    print(f'wrote {meta["num_train"]} train and {meta["num_val"]} val images '
          f'of {size[0]}x{size[1]} to {args.out_dir}')


if __name__ == '__main__':
    main()

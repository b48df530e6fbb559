"""Write the built-in synthetic multi-task dataset to disk.

    python tools/generate_synthetic_data.py [--out-dir data/synthetic]
        [--num-train 200] [--num-val 50] [--img-size 128 | --img-size H W]
        [--seed 0] [--depth] [--overwrite]

See :mod:`mmmtl.datasets.synthetic` for the scenes and the files written.
"""
import argparse
import json
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Generate the synthetic detection + segmentation dataset '
        '(COCO instances json, RGB jpgs, uint8 png seg maps; with --depth, '
        'uint16 png depth maps)')
    p.add_argument('--out-dir', default='data/synthetic',
                   help='folder to write (default: data/synthetic)')
    p.add_argument('--num-train', type=int, default=200,
                   help='number of training images (default: 200)')
    p.add_argument('--num-val', type=int, default=50,
                   help='number of validation images (default: 50)')
    p.add_argument('--img-size', type=int, nargs='+', default=[128, 128],
                   metavar='SIZE',
                   help='image size: H W, or one number for a square '
                   '(default: 128 128)')
    p.add_argument('--seed', type=int, default=0,
                   help='non-negative seed; the same arguments give the '
                   'same files (default: 0)')
    p.add_argument('--depth', action='store_true',
                   help='also write a depth map per scene (uint16 PNG, mm)')
    p.add_argument('--overwrite', action='store_true',
                   help='replace what --out-dir holds')
    args = p.parse_args(argv)
    if len(args.img_size) not in (1, 2):
        p.error(f'--img-size takes one number (square) or two (H W), got '
                f'{len(args.img_size)}: {args.img_size}')
    if len(args.img_size) == 1:
        args.img_size = args.img_size * 2
    if min(args.img_size) < 32:
        p.error(f'--img-size must be at least 32, got '
                f'{" ".join(map(str, args.img_size))}')
    if args.num_train < 1:
        p.error(f'--num-train must be at least 1, got {args.num_train}')
    if args.num_val < 1:
        p.error(f'--num-val must be at least 1, got {args.num_val}')
    if args.seed < 0:
        p.error(f'--seed must be >= 0, got {args.seed}')
    return args


def main(argv=None):
    args = parse_args(argv)
    # imported after the arguments are checked: importing mmmtl loads
    # torch and the OpenMMLab packages (seconds)
    from mmmtl.datasets import synthetic
    h, w = args.img_size
    start = time.time()
    try:
        synthetic.generate_synthetic_dataset(
            args.out_dir, num_train=args.num_train, num_val=args.num_val,
            img_size=(h, w), seed=args.seed, overwrite=args.overwrite,
            depth=args.depth)
    except (FileExistsError, ValueError) as e:
        sys.exit(f'error: {e}')
    counts = []
    for split in synthetic.SPLITS:
        with open(osp.join(args.out_dir, 'annotations',
                           f'instances_{split}.json')) as f:
            counts.append(len(json.load(f)['annotations']))
    print(f'wrote {args.num_train} train and {args.num_val} val images of '
          f'{h}x{w} (seed {args.seed}) to {osp.abspath(args.out_dir)} in '
          f'{time.time() - start:.1f}s: {counts[0]} train and {counts[1]} '
          f'val objects, {len(synthetic.DET_CLASSES)} detection and '
          f'{len(synthetic.SEG_CLASSES)} segmentation classes')


if __name__ == '__main__':
    main()

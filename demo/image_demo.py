"""Run a trained multi-task model on an image or a folder of images.

    python demo/image_demo.py INPUTS CONFIG --weights CKPT --out-dir DIR
        [--device cpu] [--score-thr 0.3] [--batch-size N]

Writes, for each image ``<name>.<ext>``:

* ``DIR/vis/<name>.jpg``: the image with the segmentation overlay and the
  boxes (score > --score-thr) with their class names;
* ``DIR/preds/<name>.json``: ``labels``, ``scores``, ``bboxes`` (as mmdet's
  image demo writes them), ``label_names``, ``seg_classes``,
  ``seg_palette``, ``sem_seg_path`` and the other tasks' predictions;
* ``DIR/preds/<name>.png``: single-channel segmentation label ids at the
  image's size.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmmtl.apis import MultiTaskInferencer  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Detect and segment images with a multi-task model')
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument('config', help='the model\'s config file')
    parser.add_argument('--weights', help='checkpoint file')
    parser.add_argument('--out-dir', default='outputs',
                        help='where vis/ and preds/ are written')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda:0... (default: what is available)')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='boxes above this score are drawn')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--show', action='store_true',
                        help='show each drawn image in a window')
    parser.add_argument('--no-save-vis', action='store_true',
                        help='do not write DIR/vis/')
    parser.add_argument('--no-save-pred', action='store_true',
                        help='do not write DIR/preds/')
    parser.add_argument('--print-result', action='store_true')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.exists(args.inputs):
        sys.exit(f'error: no image or folder at {args.inputs}')
    for path, what in ((args.config, 'config'), (args.weights, 'checkpoint')):
        if path is not None and not osp.isfile(path):
            sys.exit(f'error: {what} file not found: {path}')
    inferencer = MultiTaskInferencer(args.config, args.weights,
                                     device=args.device)
    inferencer(args.inputs, batch_size=args.batch_size,
               out_dir=args.out_dir, show=args.show,
               pred_score_thr=args.score_thr, no_save_vis=args.no_save_vis,
               no_save_pred=args.no_save_pred,
               print_result=args.print_result)
    if not (args.no_save_vis and args.no_save_pred):
        print(f'results written to {args.out_dir}')


if __name__ == '__main__':
    main()

"""Export a multi-task model to ONNX and check it against PyTorch.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out FILE.onnx
        [--shape H W] [--dynamic] [--opset 17] [--atol 1e-3]

The graph has one input, ``image``: a float32 N x 3 x H x W batch of pixel
values 0-255 in the channel order the images are loaded in (BGR with
mmcv's loader), padded to the data preprocessor's ``pad_size_divisor``; the
preprocessor's channel swap and normalisation are inside the graph. Its
outputs are every task's raw head outputs, one per tensor: per-level
detection scores and box regressions (``det.cls_scores.0``,
``det.bbox_preds.0``, ...; FCOS adds ``det.score_factors.N``),
segmentation logits (``seg``), classification logits. Post-process them
with ``mmmtl.deployment.OnnxMultiTaskPredictor`` (the heads' own
``predict_by_feat``).

The tool runs the exported file with onnxruntime and the model with
PyTorch on the same random batch, prints the largest absolute difference
of each output and exits with status 1 when one exceeds ``--atol``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from mmengine.config import Config, DictAction  # noqa: E402

from mmmtl.deployment import (check_export, default_export_shape,  # noqa: E402
                              export_onnx, load_exportable_model)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export a multi-task model to ONNX')
    parser.add_argument('config', help='config file of the model')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input height and width (default: the test '
                        'pipeline\'s Resize scale, padded)')
    parser.add_argument('--dynamic', action='store_true',
                        help='leave batch size, height and width free')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--atol', type=float, default=1e-3,
                        help='largest allowed |onnxruntime - PyTorch|')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, key=value')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    for path, what in ((args.config, 'config'),
                       (args.checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            sys.exit(f'error: {what} file not found: {path}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = load_exportable_model(cfg, args.checkpoint)
    shape = tuple(args.shape) if args.shape else default_export_shape(cfg)
    names = export_onnx(model, args.out, shape, dynamic=args.dynamic,
                        opset=args.opset)
    print(f'wrote {args.out}: input image (N, 3, {shape[0]}, {shape[1]}), '
          f'{len(names)} outputs, opset {args.opset}')
    diffs = check_export(args.out, model, shape, dynamic=args.dynamic)
    width = max(len(name) for name in diffs)
    for name, diff in diffs.items():
        flag = '' if diff <= args.atol else f'  > atol {args.atol}'
        print(f'  {name:<{width}}  max |onnxruntime - pytorch| = '
              f'{diff:.3g}{flag}')
    worst = max(diffs.values())
    if worst > args.atol:
        print(f'FAILED: largest difference {worst:.3g} exceeds {args.atol}')
        return 1
    print(f'ok: largest difference {worst:.3g} <= {args.atol}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Run a trained multi-task model on images: mmdet's ``DetInferencer``, for
every task of a :class:`MultiTaskDetector`."""
import copy
import math
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Union

import mmcv
import mmengine
import numpy as np
import torch
from mmdet.apis import DetInferencer
from mmdet.apis.det_inferencer import IMG_EXTENSIONS
from mmdet.registry import DATASETS
from mmdet.structures import DetDataSample
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from rich.progress import track

from mmmtl.models.tasks import (DetectionTask, SemanticSegmentationTask,
                                TwoStageDetectionTask)
from .prediction_files import write_prediction_files

InputType = Union[str, np.ndarray]

#: Annotation loaders dropped from the test pipeline: inputs have no labels.
ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadMultiTaskAnnotations')
#: Keys of a prediction dict that a task's own entry must not take.
RESERVED_KEYS = ('labels', 'scores', 'bboxes', 'label_names', 'sem_seg',
                 'sem_seg_path', 'seg_classes', 'seg_palette')


def config_dataset_meta(cfg) -> dict:
    """Class names and palettes of the config's test dataset, read from its
    class (``METAINFO``) and ``metainfo`` without building it (building
    may load annotations or generate data)."""
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    dataset_type = dataset.get('type')
    try:
        cls = DATASETS.get(dataset_type) if isinstance(dataset_type, str) \
            else dataset_type
    except KeyError:
        cls = None
    if cls is None or not hasattr(cls, '_load_metainfo'):
        return {}
    return dict(cls._load_metainfo(copy.deepcopy(dataset.get('metainfo'))))


class MultiTaskInferencer(DetInferencer):
    """Boxes, a semantic map and every other task's prediction for images.

    Built like mmdet's ``DetInferencer`` from a config (path or Config) and
    a checkpoint; called on an image path, a BGR ``np.ndarray`` (as
    ``mmcv.imread`` gives), a list of them, or a folder (its images, sorted
    by name, with a progress bar). Each image goes through the config's
    test pipeline (without its annotation loaders), in batches of
    ``batch_size``.

    ``inferencer(inputs)['predictions']`` has one dict per image:

    * ``bboxes`` (list of [x1, y1, x2, y2] in input-image pixels),
      ``labels`` (ints), ``scores`` (floats): as mmdet writes them, all of
      the detection task's boxes (``score_thr`` of its ``test_cfg``);
      ``label_names`` (the detection class of each box);
    * ``sem_seg``: ``np.ndarray`` (H, W) int64 label ids at the input
      image's size; ``seg_classes`` and ``seg_palette`` (RGB) to read it;
    * ``<task name>``: each other task's prediction, e.g. for an
      :class:`ImageClassificationTask` ``{'label', 'label_name', 'score',
      'scores'}``, for a :class:`DepthEstimationTask` ``{'depth'}`` (an
      (H, W) float32 ``np.ndarray`` in metres at the input image's size).

    With ``out_dir`` it writes ``out_dir/preds/<name>.json`` (the dict,
    with ``sem_seg_path`` for the array), ``out_dir/preds/<name>.png``
    (single-channel label ids at the input size), each other task's arrays
    as ``out_dir/preds/<name>.<task>.<key>.npy`` (``<key>_path`` in the
    JSON; e.g. ``<name>.depth.depth.npy``) and
    ``out_dir/vis/<name>.jpg`` (the drawn image: boxes with score >
    ``pred_score_thr`` over the segmentation overlay); ``<name>`` is the
    image file's name without extension, or a running number for arrays.

    Class names and palettes come from the checkpoint's ``dataset_meta``,
    then from the config's test dataset (its class's ``METAINFO`` and its
    ``metainfo``); what is missing gets generic names and a fixed palette.

    Args:
        model (str | Config | dict): Config (path) of the model.
        weights (str, optional): Checkpoint. Without one the model keeps
            its random initial weights (with a warning).
        device (str, optional): 'cpu', 'cuda:0'...; the available one by
            default.
        palette (str): Detection palette override, as ``DetInferencer``.
        show_progress (bool): Show a progress bar for several images.
    """

    def __init__(self, model, weights: Optional[str] = None,
                 device: Optional[str] = None, palette: str = 'none',
                 show_progress: bool = True) -> None:
        if isinstance(model, str) and not osp.isfile(model):
            raise FileNotFoundError(f'config file not found: {model}')
        if weights is not None and not osp.isfile(weights):
            raise FileNotFoundError(f'checkpoint file not found: {weights}')
        self.num_named_arrays = 0
        super().__init__(model=model, weights=weights, device=device,
                         scope='mmdet', palette=palette,
                         show_progress=show_progress)

    # -- building ----------------------------------------------------------

    def _load_weights_to_model(self, model, checkpoint: Optional[dict],
                               cfg) -> None:
        if checkpoint is not None:
            _load_checkpoint_to_model(model, checkpoint)
        else:
            warnings.warn('MultiTaskInferencer: no checkpoint given; the '
                          'predictions come from random initial weights')
        meta = config_dataset_meta(cfg)
        saved = (checkpoint or {}).get('meta', {}).get('dataset_meta') or {}
        meta.update({k.lower(): v for k, v in saved.items()})
        if self.palette != 'none':
            meta['palette'] = self.palette
        model.dataset_meta = self._complete_meta(model, meta)

    @staticmethod
    def _complete_meta(model, meta: dict) -> dict:
        """Generic class names where the checkpoint and config give none."""
        for task in model.tasks.values():
            if isinstance(task, SemanticSegmentationTask):
                key, prefix, num = 'seg_classes', 'seg', task.head.num_classes
            elif isinstance(task, DetectionTask):
                key, prefix, num = 'classes', 'class', task.head.num_classes
            elif isinstance(task, TwoStageDetectionTask):
                key, prefix = 'classes', 'class'
                num = task.roi_head.bbox_head.num_classes
            else:
                continue
            if key not in meta:
                meta[key] = tuple(f'{prefix} {i}' for i in range(num))
        return meta

    def _init_pipeline(self, cfg):
        try:
            pipeline = cfg.test_dataloader.dataset.pipeline
        except AttributeError:
            raise ValueError(
                'MultiTaskInferencer: the config has no '
                'test_dataloader.dataset.pipeline (the inferencer runs the '
                'test pipeline)') from None
        cfg.test_dataloader.dataset.pipeline = [
            t for t in pipeline
            if str(t.get('type')).split('.')[-1] not in ANNOTATION_LOADERS
        ]
        return super()._init_pipeline(cfg)

    def _init_visualizer(self, cfg):
        if 'visualizer' not in cfg:
            cfg.visualizer = dict(type='MultiTaskVisualizer')
        cfg.visualizer.pop('vis_backends', None)   # writes files itself
        cfg.visualizer.pop('save_dir', None)
        return super()._init_visualizer(cfg)

    # -- running -----------------------------------------------------------

    def _inputs_to_list(self, inputs) -> list:
        if isinstance(inputs, str) and osp.isdir(inputs):
            # image suffixes in any case (mmdet's list is lower case only)
            return [osp.join(inputs, f)
                    for f in sorted(mmengine.list_dir_or_file(
                        inputs, list_dir=False))
                    if f.lower().endswith(IMG_EXTENSIONS)]
        return super()._inputs_to_list(inputs)

    def __call__(self, inputs, batch_size: int = 1, out_dir: str = '',
                 return_vis: bool = False, show: bool = False,
                 wait_time: float = 0, draw_pred: bool = True,
                 pred_score_thr: float = 0.3, no_save_vis: bool = False,
                 no_save_pred: bool = False,
                 return_datasamples: bool = False,
                 print_result: bool = False) -> Dict[str, list]:
        """Predict ``inputs`` (a path, an array, a list, a folder);
        returns ``{'predictions': [...], 'visualization': [...]}`` (see the
        class doc). With ``out_dir`` writes ``vis/`` (unless
        ``no_save_vis``) and ``preds/`` (unless ``no_save_pred``)."""
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        ori_inputs = self._inputs_to_list(inputs)
        if not ori_inputs:
            raise ValueError(f'no images in {inputs!r}')
        batches = self.preprocess(ori_inputs, batch_size=batch_size)
        if self.show_progress and len(ori_inputs) > 1:
            batches = track(batches, description='Inference',
                            total=math.ceil(len(ori_inputs) / batch_size))
        results = dict(predictions=[], visualization=[])
        for ori_imgs, data in batches:
            preds = self.forward(data)
            names = [self._output_name(x) for x in ori_imgs]
            vis = self.visualize(
                ori_imgs, preds, names, return_vis=return_vis, show=show,
                wait_time=wait_time, draw_pred=draw_pred,
                pred_score_thr=pred_score_thr,
                img_out_dir='' if no_save_vis else out_dir)
            out = self.postprocess(
                preds, vis, return_datasamples, print_result,
                pred_out_dir='' if no_save_pred else out_dir, names=names)
            results['predictions'].extend(out['predictions'])
            results['visualization'].extend(out['visualization'] or [])
        return results

    def _output_name(self, single_input: InputType) -> str:
        """Output file stem: the image's name, or a running number."""
        if isinstance(single_input, str):
            return osp.splitext(osp.basename(single_input))[0]
        self.num_named_arrays += 1
        return f'{self.num_named_arrays - 1:08d}'

    # -- outputs -----------------------------------------------------------

    def visualize(self, inputs: List[InputType], preds: List[DetDataSample],
                  names: Sequence[str], return_vis: bool = False,
                  show: bool = False, wait_time: float = 0,
                  draw_pred: bool = True, pred_score_thr: float = 0.3,
                  img_out_dir: str = '') -> Optional[List[np.ndarray]]:
        """Draw each prediction (RGB arrays); with ``img_out_dir`` write
        ``img_out_dir/vis/<name>.jpg``."""
        if not show and not img_out_dir and not return_vis:
            return None
        if self.visualizer is None:
            raise ValueError('MultiTaskInferencer: no visualizer')
        drawn = []
        for single_input, pred, name in zip(inputs, preds, names):
            img = mmcv.imread(single_input) if isinstance(single_input, str) \
                else np.asarray(single_input)
            if img.ndim == 2:
                img = mmcv.gray2bgr(img)
            out_file = osp.join(img_out_dir, 'vis', f'{name}.jpg') \
                if img_out_dir else None
            self.visualizer.add_datasample(
                name, mmcv.bgr2rgb(img), pred, draw_gt=False,
                draw_pred=draw_pred, show=show, wait_time=wait_time,
                pred_score_thr=pred_score_thr, out_file=out_file)
            drawn.append(self.visualizer.get_image())
        return drawn

    def postprocess(self, preds: List[DetDataSample],
                    visualization: Optional[List[np.ndarray]] = None,
                    return_datasamples: bool = False,
                    print_result: bool = False, pred_out_dir: str = '',
                    names: Sequence[str] = ()) -> dict:
        """Prediction dicts (or the data samples); with ``pred_out_dir``
        write ``pred_out_dir/preds/<name>.json`` and ``.png``."""
        dicts = [self.pred2dict(pred) for pred in preds]
        if pred_out_dir:
            for result, name in zip(dicts, names):
                write_prediction_files(
                    result, osp.join(pred_out_dir, 'preds'), name)
        if print_result:
            print(dicts)
        return dict(predictions=preds if return_datasamples else dicts,
                    visualization=visualization)

    def pred2dict(self, data_sample: DetDataSample,
                  pred_out_dir: str = '') -> dict:
        """One image's predictions as plain values (see the class doc)."""
        meta = self.model.dataset_meta
        result = {}
        if 'pred_instances' in data_sample:
            inst = data_sample.pred_instances.cpu().numpy()
            classes = meta.get('classes') or ()
            result.update(
                labels=inst.labels.tolist(), scores=inst.scores.tolist(),
                bboxes=inst.bboxes.tolist(),
                label_names=[classes[i] if i < len(classes) else f'class {i}'
                             for i in inst.labels.tolist()])
        if 'pred_sem_seg' in data_sample:
            seg = data_sample.pred_sem_seg.sem_seg
            result['sem_seg'] = seg.cpu().numpy()[0] \
                if isinstance(seg, torch.Tensor) else np.asarray(seg)[0]
            result['seg_classes'] = list(meta.get('seg_classes') or ())
            result['seg_palette'] = [
                [int(c) for c in color]
                for color in (meta.get('seg_palette') or ())]
        for name, task in self.model.predicted_tasks.items():
            task_result = task.prediction_dict(data_sample)
            if task_result is None:
                continue
            if name in RESERVED_KEYS:
                raise ValueError(f'task name {name!r} clashes with the '
                                 f'prediction keys {RESERVED_KEYS}')
            result[name] = task_result
        return result

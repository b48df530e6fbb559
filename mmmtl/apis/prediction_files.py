"""Write one image's predictions: ``preds/<name>.json`` and ``<name>.png``."""
import os
import os.path as osp

import cv2
import mmengine
import numpy as np


def write_label_png(path: str, label_map: np.ndarray) -> None:
    """A single-channel PNG of label ids (8-bit, 16-bit above 255)."""
    if label_map.ndim != 2:
        raise ValueError(f'{path}: a label map must be (H, W), got shape '
                         f'{label_map.shape}')
    dtype = np.uint8 if label_map.max(initial=0) <= 255 else np.uint16
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    if not cv2.imwrite(path, label_map.astype(dtype)):
        raise OSError(f'could not write {path}')


def write_prediction_files(result: dict, pred_dir: str, name: str) -> dict:
    """Write ``result`` (one image's prediction dict) as
    ``pred_dir/<name>.json``, its ``sem_seg`` array as
    ``pred_dir/<name>.png`` (named by ``sem_seg_path`` in the JSON instead
    of the array), and any other task's array (a depth map) as
    ``pred_dir/<name>.<task>.<key>.npy`` (named by ``<key>_path`` in that
    task's dict). Returns what was written to the JSON."""
    saved = {k: v for k, v in result.items() if k != 'sem_seg'}
    if 'sem_seg' in result:
        png = osp.join(pred_dir, f'{name}.png')
        write_label_png(png, np.asarray(result['sem_seg']))
        saved['sem_seg_path'] = png
    for task, value in result.items():
        if isinstance(value, dict) and any(
                isinstance(v, np.ndarray) for v in value.values()):
            saved[task] = _arrays_to_files(value, pred_dir, f'{name}.{task}')
    mmengine.dump(saved, osp.join(pred_dir, f'{name}.json'), indent=2)
    return saved


def _arrays_to_files(task_result: dict, pred_dir: str, stem: str) -> dict:
    """``task_result`` with each array written to ``<stem>.<key>.npy`` and
    replaced by ``<key>_path``."""
    out = {}
    for key, value in task_result.items():
        if isinstance(value, np.ndarray):
            path = osp.join(pred_dir, f'{stem}.{key}.npy')
            os.makedirs(pred_dir, exist_ok=True)
            np.save(path, value)
            out[f'{key}_path'] = path
        else:
            out[key] = value
    return out

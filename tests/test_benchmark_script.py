"""tools/analysis_tools/benchmark_balancers.py runs and prints its table
(a smoke test of the script, not a timing: the figures are not checked)."""
import os
import re
import subprocess
import sys

from mtl_fixtures import REPO

R50 = 'configs/cityscapes/retinanet_r50_fpn_semfpn_8xb2-40k_cityscapes-512x1024.py'  # noqa: E501


def test_benchmark_prints_time_and_memory_ratios():
    # the ResNet-50 config asks for torchvision weights: the script must
    # drop them (no network here) and skip the frozen stem's parameters
    proc = subprocess.run(
        [sys.executable, 'tools/analysis_tools/benchmark_balancers.py', R50,
         '--img-size', '64', '96', '--batch-size', '1', '--rounds', '1',
         '--warmup', '0', '--methods', 'DWA', 'MGDA', '--modes', 'parameter'],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='2'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {}
    for line in proc.stdout.splitlines():
        m = re.match(r'\| (.+?) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| '
                     r'([\d.]+) \|$', line)
        if m:
            rows[m.group(1)] = [float(x) for x in m.groups()[1:]]
    assert set(rows) == {'EqualWeighting', 'DWA', 'MGDA [parameter]',
                         'torchjd mtl_backward MGDA'}
    assert rows['EqualWeighting'][1] == 1.0
    assert rows['EqualWeighting'][3] == 1.0
    for name, (ms, ratio, mib, mem_ratio) in rows.items():
        assert ms > 0 and ratio > 0 and mib > 0 and mem_ratio > 0, name

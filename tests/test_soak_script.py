"""tools/analysis_tools/soak.py: the growth it reports, and the processes
it samples."""
import os
import runpy
import subprocess
import sys
from types import SimpleNamespace

from mtl_fixtures import REPO

SOAK = runpy.run_path(os.path.join(REPO, 'tools', 'analysis_tools',
                                   'soak.py'), run_name='not_main')


def _samples(values, iters):
    return [dict(iter=i, main_rss_mib=v, main_pss_mib=v, workers_pss_mib=0.0,
                 total_pss_mib=v, processes=1) for i, v in zip(iters, values)]


def test_slope_is_mib_per_1000_iterations_after_settling():
    # 100 MiB at first (settling), then 10 MiB more every 500 iterations
    samples = _samples([100, 500, 510, 520, 530], [0, 500, 1000, 1500, 2000])
    slope = SOAK['slope_per_1000_iters'](samples, 'total_pss_mib', 400)
    assert abs(slope - 20.0) < 1e-9


def test_report_leaves_out_the_final_validation():
    samples = _samples([500, 500, 500, 900], [500, 1000, 1500, 2000])
    text = SOAK['report'](samples, SimpleNamespace(iters=2000, settle=0.2))
    assert 'slope +0.0 MiB' in text and 'last 500' in text


def test_descendants_finds_grandchildren():
    code = ('import subprocess, sys, time; '
            'p = subprocess.Popen([sys.executable, "-c", '
            '"import time; time.sleep(30)"]); print(p.pid, flush=True); '
            'time.sleep(30)')
    parent = subprocess.Popen([sys.executable, '-c', code],
                              stdout=subprocess.PIPE, text=True)
    try:
        grandchild = int(parent.stdout.readline())
        assert SOAK['descendants'](parent.pid) == [grandchild]
    finally:
        os.kill(grandchild, 9)
        parent.kill()
        parent.wait()

"""The cost of the runtime's -O/-OO hook alone, in one process (run by bench/runtime.sh with the
tree's interpreter at -O or -OO, markers in every __pycache__): get_code of the 50 modules' loaders
with the hook on and off, alternated 200 times, CPU time (time.process_time), medians."""
import importlib.util
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no bench/__pycache__ in the checkout
from runtime import MODULES  # noqa: E402

rt = sys.modules["_pyfloppy_runtime"]
bx = sys.modules["_frozen_importlib_external"]
loaders = [(n, importlib.util.find_spec(n).loader) for n in MODULES]
loaders = [(n, l) for n, l in loaders if isinstance(l, bx.SourceFileLoader)]


def run():
    t = time.process_time()
    for n, l in loaders:
        l.get_code(n)
    return time.process_time() - t


on, off = [], []
for _ in range(200):
    bx.cache_from_source = rt._cache_from_source
    on.append(run())
    bx.cache_from_source = rt._cache_from_source.original
    off.append(run())
m_on, m_off = statistics.median(on), statistics.median(off)
print(
    "%s: get_code of %d modules: hook on %.3f ms, off %.3f ms, ratio %.3f (%.1f us per get_code)"
    % (" ".join(sys.argv[1:]), len(loaders), m_on * 1e3, m_off * 1e3, m_on / m_off,
       (m_on - m_off) / len(loaders) * 1e6)
)

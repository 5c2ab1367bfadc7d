"""Activates pyfloppy's runtime where site-packages' .pth files are not read: a venv made without
--system-site-packages sees the stdlib directory (this file and _pyfloppy_runtime.py) but not the
base site-packages. Installed in the stdlib directory; a sitecustomize later on sys.path (a venv's,
site-packages') would be shadowed by this one, so it is found and run in its place."""

import sys

import _pyfloppy_runtime  # noqa: F401  (installs the hooks; a second import does nothing)


def _chain():
    here = __file__.rpartition("/")[0]
    rest = [p for p in sys.path if p and p.rstrip("/") != here.rstrip("/")]
    spec = sys.modules["_frozen_importlib_external"].PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = sys.modules["_frozen_importlib"].module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_chain()

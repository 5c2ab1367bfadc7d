"""pyfloppy's runtime: three behaviours of seeds 000/001, each switched on by a marker on disk.

Installed as ``_pyfloppy_runtime.py`` (importable from the stdlib directory, so that venvs see it)
and activated by ``_pyfloppy_runtime.pth`` in site-packages (one line: ``import _pyfloppy_runtime``)
or, from 3.15 (PEP 829: a matching ``.start`` file silences the ``.pth``'s import line), by
``_pyfloppy_runtime.start`` (one entry point: ``_pyfloppy_runtime:activate``)
and, for venvs, by ``sitecustomize.py`` beside this module. Importing it twice does nothing more.

1. ``__pycache__/__dont_write_bytecode__`` (empty file): importlib writes no cache in that
   ``__pycache__`` (no mkdir, no open for write, no rename): ``SourceFileLoader._cache_bytecode``
   returns at once. Caches already there are read and checked as usual.
2. ``__pycache__/__optimization_fallback__`` (empty file): at -O/-OO, when ``mod.*.opt-N.pyc`` is
   absent, import reads the next lower level present (opt-1, then the plain cache); if that one is
   fresh it is used and nothing is compiled or written. If it is stale the source is compiled at the
   running level and the cache is written where importlib would (``opt-N``), unless marker 1 says no.
3. ``__pysources__/mod.py.gz`` (gzip) or ``__pysources__/mod.py`` beside a sourceless ``mod.pyc``:
   ``SourcelessFileLoader.get_source`` returns it (linecache, traceback, inspect, pdb, doctest), and
   so does ``FrozenImporter.get_source`` for a frozen module (3.11+) whose ``__file__`` is gone.
   On 3.12 and older the default ``sys.excepthook`` is C code that opens files by path: while it is
   the hook, an uncaught exception with a frame of such a module is printed by ``traceback``.

Start-up cost: a few attribute assignments; no module is imported. Markers are looked up only when
importlib is about to write (1) or, at -O/-OO, when it is about to read a cache (2), once per
directory. zlib is imported only when a gzipped source is asked for.
"""

import sys

_bx = sys.modules["_frozen_importlib_external"]

DONT_WRITE = "__dont_write_bytecode__"
FALLBACK = "__optimization_fallback__"
PYSOURCES = "__pysources__"

_markers = {}  # (directory, marker name) -> bool, looked up once per process


def has_marker(directory, name):
    """Whether ``directory/name`` exists (a file), cached per directory for the process."""
    key = (directory, name)
    found = _markers.get(key)
    if found is None:
        found = _markers[key] = _bx._path_isfile(_bx._path_join(directory, name))
    return found


# --- 1. __dont_write_bytecode__ ---------------------------------------------------------------

_fallback_for = {}  # a lower-level cache path read in place of the wanted one -> the wanted one


def _cache_bytecode(self, source_path, bytecode_path, data):
    bytecode_path = _fallback_for.pop(bytecode_path, bytecode_path)
    if has_marker(_bx._path_split(bytecode_path)[0], DONT_WRITE):
        return None
    return _cache_bytecode.original(self, source_path, bytecode_path, data)


# --- 2. __optimization_fallback__ -------------------------------------------------------------


def _cache_from_source(path, debug_override=None, *, optimization=None):
    wanted = _cache_from_source.original(path, debug_override, optimization=optimization)
    # Only the read in SourceLoader.get_code falls back; __cached__, py_compile, compileall and
    # explicit levels keep CPython's answer.
    if optimization is not None or debug_override is not None:
        return wanted
    if sys._getframe(1).f_code is not _GET_CODE:
        return wanted
    head = _bx._path_split(wanted)[0]
    if not has_marker(head, FALLBACK) or _bx._path_isfile(wanted):
        return wanted
    level = sys.flags.optimize
    for lower in list(range(level - 1, 0, -1)) + [""]:
        candidate = _cache_from_source.original(path, optimization=lower)
        if _bx._path_isfile(candidate):
            # If get_code finds it stale it compiles and writes: that write goes to `wanted`.
            _fallback_for[candidate] = wanted
            return candidate
    return wanted


# --- 3. __pysources__ -------------------------------------------------------------------------


def _read(path):
    with _bx._io.FileIO(path, "r") as f:
        return f.read()


def pysource_bytes(path):
    """The bytes of the source kept in ``__pysources__`` for ``mod.pyc`` (or ``mod.py``), or None."""
    head, tail = _bx._path_split(path)
    stem = tail.rpartition(".")[0]
    base = _bx._path_join(head, PYSOURCES, stem + ".py")
    try:
        data = _read(base + ".gz")
    except OSError:
        try:
            return _read(base)
        except OSError:
            return None
    import zlib

    d = zlib.decompressobj(31)  # gzip; several members are read one after the other
    out = [d.decompress(data)]
    while d.unused_data:
        rest = d.unused_data
        d = zlib.decompressobj(31)
        out.append(d.decompress(rest))
    return b"".join(out)


def _get_source(self, fullname):
    # self.path, not get_filename(fullname): linecache asks with module_globals['__name__'], which
    # _collections_abc and _pydecimal set to another module's name ('collections.abc', 'decimal'), and
    # get_filename refuses a name that is not the loader's.
    data = pysource_bytes(self.path)
    if data is None:
        return _get_source.original(self, fullname)
    return _bx.decode_source(data)


def _frozen_get_source(cls, fullname):
    source = _frozen_get_source.original(fullname)
    if source is not None:
        return source
    # 3.11+ freezes os, site, _collections_abc...: their __file__ names the stdlib .py, which a layout
    # may have moved; inspect.getsource reaches them through linecache's lazy cache and this method.
    path = getattr(sys.modules.get(fullname), "__file__", None)
    data = pysource_bytes(path) if isinstance(path, str) else None
    return None if data is None else _bx.decode_source(data)


def _needs_traceback_module(exc):
    """Whether a frame of the exception (or its chain) is a sourceless module with __pysources__."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            g = tb.tb_frame.f_globals
            if isinstance(g.get("__loader__"), _bx.SourcelessFileLoader):
                filename = tb.tb_frame.f_code.co_filename
                if not _bx._path_isfile(filename) and pysource_bytes(g.get("__file__") or "") is not None:
                    return True
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__
    return False


def _excepthook(exc_type, exc, tb):
    try:
        use_traceback = isinstance(exc, BaseException) and _needs_traceback_module(exc)
    except Exception:
        use_traceback = False
    if not use_traceback:
        return sys.__excepthook__(exc_type, exc, tb)
    import traceback

    traceback.print_exception(exc_type, exc, tb)
    return None


# --- activation -------------------------------------------------------------------------------


def _install():
    global _GET_CODE
    if getattr(_bx, "_pyfloppy_runtime", False):
        return
    _bx._pyfloppy_runtime = True
    # Each hook on its own: should a later CPython rename a private name, that behaviour is off and
    # the others stay (nothing raises out of site's .pth processing).
    try:
        sfl = _bx.SourceFileLoader
        _cache_bytecode.original = sfl._cache_bytecode
        sfl._cache_bytecode = _cache_bytecode
    except AttributeError:
        pass
    if sys.flags.optimize:
        try:
            _GET_CODE = _bx.SourceLoader.get_code.__code__
            _cache_from_source.original = _bx.cache_from_source
            _bx.cache_from_source = _cache_from_source
        except AttributeError:
            pass
    try:
        sless = _bx.SourcelessFileLoader
        _get_source.original = sless.get_source
        sless.get_source = _get_source
    except AttributeError:
        pass
    try:
        frozen = sys.modules["_frozen_importlib"].FrozenImporter
        _frozen_get_source.original = frozen.get_source
        frozen.get_source = classmethod(_frozen_get_source)
    except (AttributeError, KeyError):
        pass
    # 3.13 prints uncaught exceptions through the traceback module already.
    if sys.version_info < (3, 13) and sys.excepthook is sys.__excepthook__:
        sys.excepthook = _excepthook


_GET_CODE = None
activate = _install  # the entry point of _pyfloppy_runtime.start (PEP 829)
_install()

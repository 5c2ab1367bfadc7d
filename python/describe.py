# Run by the *target* interpreter: print, as one JSON object, what pyfloppy needs to know about it.
# Kept compatible with Python 2.7 and 3.x so that any interpreter can at least be described.
import json
import sys
import sysconfig

paths = sysconfig.get_paths()
impl = getattr(sys, "implementation", None)
magic = None
try:
    import importlib.util

    magic = importlib.util.MAGIC_NUMBER.hex()
except (ImportError, AttributeError):
    try:
        import imp

        magic = imp.get_magic().encode("hex")
    except Exception:
        magic = None
try:
    from importlib.machinery import EXTENSION_SUFFIXES as ext
except ImportError:
    import imp

    ext = [s for (s, _m, t) in imp.get_suffixes() if t == imp.C_EXTENSION]

json.dump(
    {
        "executable": sys.executable,
        "version": "%d.%d.%d" % sys.version_info[:3],
        "versionInfo": list(sys.version_info[:3]) + [sys.version_info[3], sys.version_info[4]],
        "implementation": impl.name if impl is not None else "cpython",
        "cacheTag": impl.cache_tag if impl is not None else None,
        "magic": magic,
        "prefix": sys.prefix,
        "extensionSuffixes": list(ext),
        "paths": dict((k, paths.get(k)) for k in ("stdlib", "platstdlib", "purelib", "platlib")),
    },
    sys.stdout,
)

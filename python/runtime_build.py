"""Run by the *target* interpreter (3.7+) when `plan` installs pyfloppy's runtime into a tree: what the
plan cannot know without it. Writes nothing, runs nothing but presite.py's children.

    python runtime_build.py DEST NAME...

For each NAME (a module of python/runtime/, e.g. _pyfloppy_runtime), its caches at levels 0, 1 and 2
as py_compile makes them with --invalidation-mode unchecked-hash and dfile DEST/NAME.py (the runtime
is imported before its hooks exist: its caches must be valid whatever mtime apply gives the source);
and, per level, the modules imported before site processes .pth files (python/runtime/presite.py).
One JSON object on stdout: {"version", "cacheTag", "stdlib", "caches": {NAME: [b64, b64, b64]},
"presite": [[origin, ...] per level]}.
"""

import base64
import importlib.util
import json
import os
import sys
import sysconfig
from importlib import _bootstrap_external as bx

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIME = os.path.join(HERE, "runtime")


def caches(dest, name):
    """The three unchecked-hash caches of python/runtime/NAME.py, as py_compile would write them."""
    with open(os.path.join(RUNTIME, name + ".py"), "rb") as f:
        source = f.read()
    dfile = os.path.join(dest, name + ".py")
    digest = importlib.util.source_hash(source)
    out = []
    for level in (0, 1, 2):
        code = compile(source, dfile, "exec", dont_inherit=True, optimize=level)
        data = bx._code_to_hash_pyc(code, digest, checked=False)
        out.append(base64.b64encode(bytes(data)).decode("ascii"))
    return out


def presite():
    sys.path.insert(0, RUNTIME)
    import presite as p

    return [sorted(p.presite_modules(optimize=level).values()) for level in (0, 1, 2)]


def main(argv):
    dest, names = argv[0], argv[1:]
    json.dump(
        {
            "version": "%d.%d.%d" % sys.version_info[:3],
            "cacheTag": sys.implementation.cache_tag,
            "stdlib": sysconfig.get_paths()["stdlib"],
            "caches": dict((n, caches(dest, n)) for n in names),
            "presite": presite(),
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

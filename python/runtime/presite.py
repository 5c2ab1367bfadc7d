"""The modules a Python process has imported before site runs ``_pyfloppy_runtime.pth``.

    python [-O | -OO] presite.py        one line per module: NAME<TAB>ORIGIN, ORIGIN a path,
                                         'frozen' or 'built-in'; sorted by name
    python presite.py --json            the same as one JSON object {name: origin}

Those modules are loaded before the runtime's hook is active, so a tree keeps their caches (at
every level it ships). The running interpreter answers for itself at its own -O level: run it once
per level. Measured in a child started with -S (so that nothing runs before us) at the same -O
level and with the same -I / -E / -s flags, which imports site and runs site.main() itself,
snapshotting sys.modules when the first import line of a .pth file runs (the file read and
decoded: the runtime's sorts first among usual ones; with none, a probe .pth in a directory of
its own, after site.main()). The child imports nothing else before the snapshot.
"""

import json
import subprocess
import sys

CHILD = r"""
import sys
import site
snapshot = []
def exec_line(code, *args):
    # site runs a .pth file's import lines with exec(), after reading and decoding the file (3.13
    # decodes with utf-8-sig: that codec loads before the runtime's line too).
    if not snapshot:
        snapshot.append(dict(sys.modules))
    return exec(code, *args)
site.exec = exec_line
site.main()
if not snapshot:
    # No .pth with an import line here: one read the way the runtime's would be.
    import os
    probe = "/tmp/pyfloppy-presite-%d" % os.getpid()
    os.mkdir(probe)
    try:
        with open(probe + "/_pyfloppy_runtime.pth", "w") as f:
            f.write("import sys\n")
        site.addsitedir(probe)
    finally:
        os.remove(probe + "/_pyfloppy_runtime.pth")
        os.rmdir(probe)
mods = snapshot[0] if snapshot else dict(sys.modules)
out = {}
for name, m in mods.items():
    if name in ('__main__',):
        continue
    spec = getattr(m, '__spec__', None)
    origin = getattr(spec, 'origin', None) or getattr(m, '__file__', None) or 'built-in'
    if origin == 'frozen' or (spec is not None and spec.loader is not None
                              and getattr(spec.loader, '__name__', '') == 'FrozenImporter'):
        origin = 'frozen'
    out[name] = origin
import json
sys.stdout.write(json.dumps(out))
"""


def presite_modules(executable=None, optimize=None):
    """{module name: origin} of the modules imported before site processes .pth files."""
    executable = executable or sys.executable
    level = sys.flags.optimize if optimize is None else optimize
    flags = ["-S"] + (["-" + "O" * level] if level else [])
    if sys.flags.isolated:
        flags.append("-I")
    else:
        if sys.flags.ignore_environment:
            flags.append("-E")
        if sys.flags.no_user_site:
            flags.append("-s")
    out = subprocess.run(
        [executable] + flags + ["-c", CHILD], check=True, stdout=subprocess.PIPE
    ).stdout
    return json.loads(out.decode("utf-8"))


def main(argv):
    mods = presite_modules()
    if "--json" in argv:
        print(json.dumps(mods, sort_keys=True))
    else:
        for name in sorted(mods):
            print("%s\t%s" % (name, mods[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

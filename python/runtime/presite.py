"""The modules a Python process has imported before site runs ``_pyfloppy_runtime.pth``.

    python [-O | -OO] presite.py        one line per module: NAME<TAB>ORIGIN, ORIGIN a path,
                                         'frozen' or 'built-in'; sorted by name
    python presite.py --json            the same as one JSON object {name: origin}

Those modules are loaded before the runtime's hook is active, so a tree keeps their caches (at
every level it ships). The running interpreter answers for itself at its own -O level: run it once
per level. Measured in a child started with -S (so that nothing runs before us) at the same -O
level and with the same -I / -E / -s flags, which imports site and runs site.main() itself,
snapshotting sys.modules when the first .pth file is about to be processed (the runtime's
sorts first among usual ones; with none, at the end of site.main()). The child imports nothing
else before the snapshot.
"""

import json
import subprocess
import sys

CHILD = r"""
import sys
import site
snapshot = []
original = site.addpackage
def addpackage(sitedir, name, known_paths):
    if not snapshot:
        snapshot.append(dict(sys.modules))
    return original(sitedir, name, known_paths)
site.addpackage = addpackage
site.main()
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

# Run by the *target* interpreter (CPython 3.8+) as one worker of `pyfloppy verify`, started by a `-c`
# bootstrap that execs this file (so that no script directory is put on sys.path):
#   python -B [-I | -s] [-O | -OO] -c BOOTSTRAP verify_worker.py TREE MODE [PREFIX]
# MODE is "stdlib" (the interpreter runs with PYTHONHOME=PREFIX and must have loaded its library from TREE)
# or "path" (TREE is put first on sys.path).
#
# Request, on stdin, read to its end before anything is imported: lines "discover" (find the modules of the
# tree), "module NAME" (import these, in this order, instead) and "exclude PREFIX" (dotted-name prefixes
# never imported). Answers: one JSON object per line, written to the stdout fd saved at start; fd 1 then
# points to /dev/null and sys.stdout/sys.stderr are /dev/null writers, so nothing an imported module prints
# can corrupt the protocol (fd 2 stays, for the interpreter's own fatal errors):
#   {"ev": "ready", "version", "optimize", "prefix", "entries"}   or   {"ev": "fatal", "message"}
#   {"ev": "found", "modules": [...], "excluded": [...]}           (after "discover")
#   {"ev": "start", "module"}
#   {"ev": "write", "module", "event", "path"}                     (recorded and blocked)
#   {"ev": "done", "module", "ok": true, "source": bool}
#   {"ev": "done", "module", "ok": false, "type", "message"}
#   {"ev": "end"}
#
# An audit hook (sys.addaudithook) sees every attempt to write under TREE (open for writing, mkdir, rename,
# replace, remove, rmdir, link, symlink, truncate, chmod, chown, utime), reports it and blocks it by raising
# PermissionError: importlib swallows OSError from its cache writes, so imports go on and the tree is not
# littered. The worker itself imports nothing but what the interpreter loaded before it ran (sys, os, the
# frozen importlib) and built-in modules (_imp, _thread), and the interpreter starts with -B, so nothing is
# written before the hook exists; then sys.dont_write_bytecode is set back to False, and modules the
# interpreter loaded from TREE at its start (site's imports on 3.8-3.10) have their cache validated again
# through their loader's get_code(), which tries the same write importlib would have tried. A watchdog
# thread ends the worker when its caller is gone.
import sys


def main():
    import os  # loaded by site before this file runs
    import _imp
    import _frozen_importlib_external as bx

    write_fd = os.dup(1)
    os_write = os.write
    os_fspath = os.fspath
    os_fsdecode = os.fsdecode
    os_readlink = os.readlink
    os_getcwd = os.getcwd
    join = os.path.join
    normpath = os.path.normpath
    realpath = os.path.realpath
    isabs = os.path.isabs

    def quote(s):
        out = ['"']
        for ch in s:
            o = ord(ch)
            if ch == '"' or ch == "\\":
                out.append("\\" + ch)
            elif 0x20 <= o < 0x7F:
                out.append(ch)
            elif o > 0xFFFF:
                o -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xD800 + (o >> 10), 0xDC00 + (o & 0x3FF)))
            else:
                out.append("\\u%04x" % o)
        out.append('"')
        return "".join(out)

    def dumps(v):
        if v is None:
            return "null"
        if v is True:
            return "true"
        if v is False:
            return "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return quote(v)
        if isinstance(v, (list, tuple)):
            return "[" + ",".join(dumps(x) for x in v) + "]"
        return "{" + ",".join(quote(k) + ":" + dumps(x) for k, x in v.items()) + "}"

    def emit(obj):
        data = (dumps(obj) + "\n").encode("ascii")
        while data:
            n = os_write(write_fd, data)
            data = data[n:]

    argv = sys.argv[1:]
    tree, mode = argv[0], argv[1]
    prefix = argv[2] if len(argv) > 2 else None

    chunks = []
    while True:
        b = os.read(0, 65536)
        if not b:
            break
        chunks.append(b)
    request = b"".join(chunks).decode("utf-8").splitlines()

    if not hasattr(sys, "addaudithook"):
        message = "Python %d.%d has no audit hooks (3.8 or newer needed)" % sys.version_info[:2]
        emit({"ev": "fatal", "message": message})
        return

    # The worker leads its own process group (so that a timeout can end what its modules start): when the
    # caller is gone (interrupted), nobody would end a module that hangs, so the worker ends itself.
    import _thread

    parent = os.getppid()
    os_getppid = os.getppid
    os_exit = os._exit

    def watchdog():
        lock = _thread.allocate_lock()
        lock.acquire()
        while True:
            lock.acquire(timeout=1.0)
            if os_getppid() != parent:
                os_exit(1)

    _thread.start_new_thread(watchdog, ())

    # Nothing imported may print into the protocol or wait for input.
    devnull = os.open(os.devnull, os.O_RDWR)
    sys.stdout.flush()
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sink = open(os.devnull, "w")
    sys.stdout = sink
    sys.stderr = sink

    tree_abs = normpath(os.path.abspath(tree))
    tree_real = realpath(tree)
    roots = [tree_abs] if tree_abs == tree_real else [tree_abs, tree_real]
    archives = []
    if mode == "stdlib":
        # The installation's pythonXY.zip (getpath puts it on sys.path beside the directory): part of the
        # tree when it exists, as pyfloppy's zip layouts make it.
        lib = os.path.dirname(tree_abs)
        for e in sys.path:
            archive = normpath(e)
            if os.path.dirname(archive) == lib and archive.endswith(".zip") and os.path.isfile(archive):
                archives = [archive]
                roots += [archive] if realpath(archive) == archive else [archive, realpath(archive)]
                break

    def under(p):
        for r in roots:
            if p == r or p.startswith(r + "/"):
                return True
        return False

    if mode == "stdlib":
        # As the installation would run, without the cwd (-c puts "" first).
        sys.path[:] = [e for e in sys.path if e not in ("", ".")]
        entries = [e for e in sys.path if under(realpath(e)) or under(normpath(e))]
        if realpath(sys.prefix) != realpath(prefix) or not any(realpath(e) == tree_real for e in entries):
            emit(
                {
                    "ev": "fatal",
                    "message": "sys.prefix is %s and sys.path is %s" % (sys.prefix, ", ".join(sys.path)),
                }
            )
            return
    else:
        sys.path.insert(0, tree)
        entries = [tree]
    entries = [e for e in entries if os.path.isdir(e) or normpath(e) in archives]
    emit(
        {
            "ev": "ready",
            "version": "%d.%d.%d" % sys.version_info[:3],
            "optimize": sys.flags.optimize,
            "prefix": sys.prefix,
            "entries": entries,
        }
    )

    excludes = [line[8:] for line in request if line.startswith("exclude ")]
    excludes += ["antigravity", "this", "__hello__", "__phello__", "idlelib.idle"]

    def excluded(name):
        if "__main__" in name.split("."):
            return True
        for p in excludes:
            if name == p or name.startswith(p + "."):
                return True
        return False

    ext_suffixes = list(_imp.extension_suffixes())
    suffixes = [".py", ".pyc"] + ext_suffixes

    def module_stem(fname):
        for s in suffixes:
            if fname.endswith(s) and len(fname) > len(s):
                return fname[: -len(s)]
        return None

    def discover():
        found = {}
        seen_dirs = set()

        def walk(d, pfx):
            rd = realpath(d)
            if rd in seen_dirs:
                return
            seen_dirs.add(rd)
            try:
                names = sorted(os.listdir(d))
            except OSError:
                return
            for n in names:
                full = join(d, n)
                if os.path.isdir(full):
                    if not n.isidentifier():
                        continue
                    if any(os.path.isfile(join(full, "__init__" + s)) for s in suffixes):
                        name = pfx + n
                        found.setdefault(name, True)
                        walk(full, name + ".")
                    continue
                stem = module_stem(n)
                if stem is None or not stem.isidentifier() or stem == "__init__":
                    continue
                found.setdefault(pfx + stem, True)

        def walk_archive(archive):
            # zipimport is frozen (3.8+): it reads nothing from the tree. Its table of contents is what
            # zipimport itself imports from; regular packages only, as in walk().
            import zipimport

            names = set(k.replace(os.sep, "/") for k in zipimport._read_directory(archive))

            def package(parts):
                return all(p.isidentifier() for p in parts) and any(
                    "/".join(parts) + "/__init__" + s in names for s in (".py", ".pyc")
                )

            for n in sorted(names):
                parts = n.split("/")
                stem = module_stem(parts[-1])
                if stem is None or not stem.isidentifier() or parts[-1].endswith(tuple(ext_suffixes)):
                    continue
                dirs = parts[:-1]
                if not all(package(dirs[: k + 1]) for k in range(len(dirs))):
                    continue
                if stem != "__init__":
                    found.setdefault(".".join(dirs + [stem]), True)
                elif dirs:
                    found.setdefault(".".join(dirs), True)

        for e in entries:
            if e in archives or normpath(e) in archives:
                walk_archive(normpath(e))
            else:
                walk(e, "")
        names = sorted(found)
        return [n for n in names if not excluded(n)], [n for n in names if excluded(n)]

    if "discover" in request:
        modules, left_out = discover()
        emit({"ev": "found", "modules": modules, "excluded": left_out})
    else:
        modules = [line[7:] for line in request if line.startswith("module ")]
        modules = [m for m in modules if not excluded(m)]

    # The audit hook: record and block every write under the tree.
    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    # event -> [(index of a path argument, index of its dir_fd argument or None)]
    PATH_EVENTS = {
        "os.mkdir": [(0, 2)],
        "os.rename": [(0, 2), (1, 3)],
        "os.replace": [(0, 2), (1, 3)],
        "os.remove": [(0, 1)],
        "os.rmdir": [(0, 1)],
        "os.link": [(1, 3)],
        "os.symlink": [(1, 2)],
        "os.truncate": [(0, None)],
        "os.chmod": [(0, 2)],
        "os.chown": [(0, 3)],
        "os.utime": [(0, 3)],
    }
    state = {"module": None, "busy": False}

    def resolve(p, dir_fd):
        if isinstance(p, int):
            return os_readlink("/proc/self/fd/%d" % p)
        p = os_fsdecode(os_fspath(p))
        if not isabs(p):
            base = os_readlink("/proc/self/fd/%d" % dir_fd) if isinstance(dir_fd, int) else os_getcwd()
            p = join(base, p)
        return normpath(p)

    def hook(event, args):
        if state["busy"]:
            return
        if event == "open":
            if len(args) < 3:
                return
            path, fmode, flags = args[0], args[1], args[2]
            if isinstance(path, int) or path is None:
                return
            writes = (isinstance(fmode, str) and any(c in fmode for c in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS
            )
            if not writes:
                return
            targets = [(path, None)]
        else:
            spec = PATH_EVENTS.get(event)
            if spec is None:
                return
            targets = [
                (args[i], args[j] if j is not None and j < len(args) else None) for i, j in spec if i < len(args)
            ]
        state["busy"] = True
        try:
            hit = None
            for p, dir_fd in targets:
                try:
                    full = resolve(p, dir_fd)
                    if under(full) or under(realpath(full)):
                        hit = full
                        break
                except Exception:
                    continue
            if hit is None:
                return
            emit({"ev": "write", "module": state["module"] or "", "event": event, "path": hit})
        finally:
            state["busy"] = False
        raise PermissionError(13, "Permission denied (pyfloppy verify blocks writes into the tree)", hit)

    preloaded = set(sys.modules)
    sys.addaudithook(hook)
    # Started with -B, so that the interpreter's own start wrote nothing unseen: from here on, importlib
    # writes caches as it would without -B (it reads this attribute at each write, not sys.flags).
    sys.dont_write_bytecode = False

    def from_tree(m):
        spec = getattr(m, "__spec__", None)
        origin = getattr(spec, "origin", None) or getattr(m, "__file__", None)
        if not isinstance(origin, str) or not isabs(origin):
            return False
        return under(normpath(origin)) or under(realpath(origin))

    def has_source(name, m):
        if not from_tree(m):
            return False
        loader = getattr(m, "__loader__", None)
        get_source = getattr(loader, "get_source", None)
        if get_source is None:
            return False
        try:
            return isinstance(get_source(name), str)
        except Exception:
            return False

    for name in modules:
        state["module"] = name
        emit({"ev": "start", "module": name})
        try:
            m = sys.modules.get(name)
            if name in preloaded and m is not None:
                # Loaded before the hook existed: validate its cache again as the import did.
                loader = getattr(getattr(m, "__spec__", None), "loader", None)
                if isinstance(loader, bx.SourceFileLoader) and from_tree(m):
                    loader.get_code(name)
            else:
                __import__(name)
                m = sys.modules[name]
            emit({"ev": "done", "module": name, "ok": True, "source": has_source(name, m)})
        except BaseException as e:  # noqa: B036 - SystemExit and KeyboardInterrupt at import are failures too
            try:
                message = str(e)
            except Exception:
                message = "(unprintable)"
            if len(message) > 500:
                message = message[:497] + "..."
            emit({"ev": "done", "module": name, "ok": False, "type": type(e).__name__, "message": message})
        state["module"] = None
    emit({"ev": "end"})


code = 0
try:
    main()
except BaseException as e:  # noqa: B036 - reported on fd 2 for the caller's error message
    import os

    os.write(2, ("pyfloppy verify worker: %s: %s\n" % (type(e).__name__, e)).encode("utf-8", "replace"))
    code = 3
# No atexit handlers, no waiting for threads the imported modules started.
import os  # noqa: E402

os._exit(code)

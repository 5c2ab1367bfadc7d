"""A relocated copy of a pyenv interpreter in a sourceless layout, for the co_filename research of
issue 13 (bench/README.md, "co_filename of relocated bytecode"). Run with any Python 3:

    cofilename_tree.py VERSION_DIR NAME LAYOUT CAND [runtime]
    LAYOUT  none | sourceless | pysources
    CAND    a: co_filename is the .py path at the tree's final location; b: the .pyc path;
            orig: the .py path where it was compiled (a path that is gone afterwards)
    runtime install python/runtime/ (the module in the stdlib directory, its .pth in site-packages,
            its caches unchecked-hash at levels 0-2; RTFILE=path takes another runtime file)
    KEEP="os.py argparse.py ..." (environment) leaves those stdlib sources as they are

The whole version directory is copied to /dev/shm/rt-a-NAME, every stdlib source but the test
package, site-packages, lib-dynload and KEEP compiled by the copy's interpreter (level 0, timestamp)
to mod.pyc beside it, the source removed (pysources: gzipped into __pysources__/ first) with its
__pycache__ caches; then the directory is renamed to /dev/shm/rt-b-NAME so that the compile-time
paths no longer exist. The zip layout is made by `pyfloppy plan zip-stdlib` + `apply`, its members
then recompiled the same way (bench/README.md shows the commands)."""
import os, sys, shutil, subprocess, gzip
vdir, name, layout, cand = sys.argv[1:5]
runtime = len(sys.argv) > 5
A = '/dev/shm/rt-a-' + name; B = '/dev/shm/rt-b-' + name
for d in (A, B):
    if os.path.exists(d): shutil.rmtree(d)
subprocess.run(['cp', '-a', vdir, A], check=True)
ver = os.path.basename(vdir).rsplit('.', 1)[0]  # 3.13
lib = f'{A}/lib/python{ver}'
py = f'{A}/bin/python{ver}'
if runtime:
    rt = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'python', 'runtime')
    shutil.copy(os.environ.get('RTFILE', f'{rt}/_pyfloppy_runtime.py'), f'{lib}/_pyfloppy_runtime.py')
    with open(f'{lib}/site-packages/_pyfloppy_runtime.pth', 'w') as f: f.write('import _pyfloppy_runtime\n')
    subprocess.run([py, '-c', f'import py_compile as p\nfor o in (0,1,2): p.compile("{lib}/_pyfloppy_runtime.py", optimize=o, invalidation_mode=p.PycInvalidationMode.UNCHECKED_HASH, doraise=True)'], check=True)
if layout != 'none':
    # a worker script run by the tree's interpreter: compile every stdlib source (not site-packages, not the runtime)
    code = r'''
import os, sys, marshal, importlib._bootstrap_external as bx, importlib.util, zipfile, gzip, time
lib, A, B, layout, cand = sys.argv[1:6]
tag = sys.implementation.cache_tag
ver = "%d%d" % sys.version_info[:2]
zipname = os.path.join(os.path.dirname(lib), "python%s.zip" % ver)
zf = zipfile.ZipFile(zipname, "w", zipfile.ZIP_DEFLATED) if layout == "zip" else None
keep = set(os.environ.get("KEEP", "").split())
skip_top = {"site-packages", "lib-dynload", "_pyfloppy_runtime.py", "test"}
n = bad = 0
for root, dirs, files in os.walk(lib):
    rel = os.path.relpath(root, lib)
    top = rel.split(os.sep)[0]
    if top in skip_top or "__pycache__" in root: 
        dirs[:] = [d for d in dirs if d != "__pycache__"] if top not in skip_top else []
        if top in skip_top: continue
    dirs[:] = [d for d in dirs if d != "__pycache__" and not (rel == "." and d in skip_top)]
    dirs.sort()
    for f in sorted(files):
        if not f.endswith(".py") or (rel == "." and f in skip_top): continue
        if os.path.normpath(os.path.join(rel, f)) in keep: continue
        src = os.path.join(root, f)
        with open(src, "rb") as fh: data = fh.read()
        relf = os.path.normpath(os.path.join(rel, f))
        if layout == "zip":
            final_py = os.path.join(zipname, relf).replace(A, B, 1)
            final_pyc = final_py + "c"
        else:
            final_py = src.replace(A, B, 1)
            final_pyc = final_py + "c"
        dfile = {"a": final_py, "b": final_pyc, "orig": src.replace(A, B, 1)}[cand]
        try:
            code = compile(data, dfile, "exec", dont_inherit=True, optimize=0)
        except Exception:
            bad += 1
            continue
        st = os.stat(src)
        pyc = bx._code_to_timestamp_pyc(code, int(st.st_mtime), st.st_size)
        n += 1
        if layout == "zip":
            t = time.localtime(st.st_mtime)[:6]
            zi = zipfile.ZipInfo(relf.replace(os.sep, "/"), t); zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
            zi = zipfile.ZipInfo(relf.replace(os.sep, "/") + "c", t); zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, bytes(pyc))
        else:
            with open(src + "c", "wb") as fh: fh.write(pyc)
            if layout == "pysources":
                d = os.path.join(root, "__pysources__"); os.makedirs(d, exist_ok=True)
                with gzip.open(os.path.join(d, f + ".gz"), "wb") as g: g.write(data)
            os.unlink(src)
        for lv in ("", ".opt-1", ".opt-2"):
            c = os.path.join(root, "__pycache__", f[:-3] + "." + tag + lv + ".pyc")
            if os.path.exists(c): os.unlink(c)
print("compiled", n, "failed", bad, file=sys.stderr)
'''
    if layout == 'zip':
        raise SystemExit('zip: see the module docstring')
    subprocess.run([py, '-S', '-B', '-c', code, lib, A, B, layout, cand], check=True, env=dict(os.environ))
os.rename(A, B)
print(B)

"""The start-up and import cost of pyfloppy's runtime (issue 13). Run by bench/runtime.sh.

    runtime.py RUNS NAME=PYTHON...      one interpreter per configuration, the first the reference

Per -O level: `python -c pass` and `python -c "import <50 stdlib modules>"`, each configuration run in
turn RUNS times (interleaved, so that load on the machine falls on all alike), CPU time (user +
system) of the process;
medians, and each configuration's ratio to the first. "the 50 imports" is the CPU time of the import
statement alone, measured inside the process (time.process_time), without start-up. "get_code x50"
is the code the runtime changes at -O/-OO and nothing else: each module's loader.get_code, in one
process, repeated (the least noisy figure on a shared machine).
"""
import os
import resource
import statistics
import subprocess
import sys

MODULES = (
    "argparse asyncio base64 bisect calendar collections concurrent.futures configparser contextlib copy "
    "csv dataclasses datetime decimal difflib email.message enum fnmatch fractions functools getopt glob "
    "gzip hashlib heapq hmac html.parser http.client inspect ipaddress json logging pathlib pickle platform "
    "pprint queue random shlex shutil socket statistics string subprocess tempfile textwrap typing unittest "
    "urllib.parse zipfile"
).split()
assert len(MODULES) == 50


def once(exe, args):
    """CPU seconds (user + system) of one run, and what it printed: on a machine shared with other
    work, wall time measures the neighbours more than the process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([exe] + args, check=True, stdout=subprocess.PIPE).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out


def main():
    runs = int(sys.argv[1])
    configs = [a.split("=", 1) for a in sys.argv[2:]]
    env_note = os.environ.get("PYTHONDONTWRITEBYTECODE")
    assert not env_note, "run with PYTHONDONTWRITEBYTECODE unset"
    print("| level | what | " + " | ".join("%s ms" % n for n, _ in configs) + " | "
          + " | ".join("%s / %s" % (n, configs[0][0]) for n, _ in configs[1:]) + " |")
    print("| --- | --- | " + " | ".join("---:" for _ in configs) + " | "
          + " | ".join("---:" for _ in configs[1:]) + " |")
    for level in ([], ["-O"], ["-OO"]):
        med = {}
        timed = "import time\nt = time.process_time()\nimport %s\nprint(time.process_time() - t)"
        for what, code in (("pass", "pass"), ("imports", timed % ", ".join(MODULES))):
            times = {n: [] for n, _ in configs}
            inside = {n: [] for n, _ in configs}
            for exe in (e for _, e in configs):  # warm up
                once(exe, level + ["-c", code])
            for _ in range(runs):
                for n, exe in configs:
                    cpu, out = once(exe, level + ["-c", code])
                    times[n].append(cpu)
                    if out.strip():
                        inside[n].append(float(out))
            med[what] = {n: statistics.median(v) for n, v in times.items()}
            if what == "imports":
                med["the 50 imports"] = {n: statistics.median(v) for n, v in inside.items()}
        # The hooked path alone, in one process: get_code of the 50 modules' loaders (cache_from_source,
        # the cache read and checked, unmarshal), 20 times; min of 5 runs per configuration.
        getcode = (
            "import importlib.util, sys, time\n"
            "ls = [(n, importlib.util.find_spec(n).loader) for n in sys.argv[1:]]\n"
            "best = 1e9\n"
            "for _ in range(5):\n"
            "    t = time.process_time()\n"
            "    for _ in range(20):\n"
            "        for n, l in ls:\n"
            "            l.get_code(n)\n"
            "    best = min(best, time.process_time() - t)\n"
            "print(best / 20)\n"
        )
        med["get_code x50"] = {}
        for n, exe in configs:
            med["get_code x50"][n] = statistics.median(
                float(once(exe, level + ["-c", getcode] + MODULES)[1]) for _ in range(5)
            )
        for what in ("pass", "imports", "the 50 imports", "get_code x50"):
            m = med[what]
            ref = m[configs[0][0]]
            print("| %s | %s | %s | %s |" % (
                " ".join(level) or "-O0", what,
                " | ".join("%.1f" % (m[n] * 1000) for n, _ in configs),
                " | ".join("%.3f" % (m[n] / ref) for n, _ in configs[1:])))


if __name__ == "__main__":
    main()

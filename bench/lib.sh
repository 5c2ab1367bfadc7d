# Shared by the bench scripts: the median of numbers on stdin, and the wall seconds of a command (its output
# and exit status ignored: check and compile exit 1 when they find something, which is not a failure here).
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timeit() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc; }

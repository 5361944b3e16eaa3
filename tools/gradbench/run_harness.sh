#!/usr/bin/env bash
# Runs GradBench's own evals against `engram gradbench`, and against the hand-written C++
# reference tool (`manual`) and GradBench's PyTorch and JAX tools for comparison, through
# the official intermediary (`gradbench run`), then prints each run's verdict and a table
# of median evaluate times, engram beside the others.
#
#   tools/gradbench/run_harness.sh UPSTREAM [EVAL ...]
#
# UPSTREAM is a checkout of github.com/gradbench/gradbench, built the "without Docker"
# way (see the README's "Running under GradBench" section): its CLI at
# UPSTREAM/target/release/gradbench, the manual tool by `make -C UPSTREAM/tools/manual`,
# and a Python with numpy, pydantic, dataclasses-json and scipy (gmm). EVAL defaults to
# all twelve.
#
# Environment:
#   PYTHON    the Python that runs the evals (default: python3)
#   ENGRAM    the engram binary (default: target/release/engram in this repository)
#   LOGS      where the logs go (default: target/gradbench-logs in this repository)
#   TOOLS     which tools to run, from engram, manual, pytorch and jax (default:
#             "engram manual"). Each peer runs only the evals its upstream list
#             (tools/NAME/evals.txt) marks as working; manual has no saddle/particle.
#             pytorch and jax need torch and jax installed for PYTHON.
#   TIMEOUT   seconds a tool may take to answer one message (default 600, as upstream CI)
#   ARGS_<eval>  extra arguments for one eval, e.g. ARGS_det="-l 5 6 7"
#
# The tools run one after the other, eval by eval, so their timings share a machine and a
# moment. Run the script under `taskset -c N` to hold every tool to one core; the thread
# variables below keep the peers' own pools at one thread as well. Exit status: non-zero if any run was not valid.
set -uo pipefail

if [[ $# -lt 1 ]]; then
    sed -n '2,/^set /p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 2
fi
upstream=$(cd "$1" && pwd) || exit 2
shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
evals=("$@")
if [[ ${#evals[@]} -eq 0 ]]; then
    evals=(hello lse llsq det ode gmm lstm kmeans ba ht saddle particle)
fi
python=${PYTHON:-python3}
logs=${LOGS:-$repo/target/gradbench-logs}
tools=${TOOLS:-engram manual}
timeout=${TIMEOUT:-600}
gradbench="$upstream/target/release/gradbench"
engram=${ENGRAM:-$repo/target/release/engram}

for needed in "$gradbench" "$engram"; do
    if [[ ! -x $needed ]]; then
        echo "missing $needed: build it first (cargo build --release)" >&2
        exit 2
    fi
done
mkdir -p "$logs"

# Extra arguments an eval needs on this checkout: a snapshot may lack the largest hand
# (hand12), and the ht eval stops with a traceback on a missing file.
eval_args() {
    local name="ARGS_$1"
    if [[ -n ${!name:-} ]]; then
        echo "${!name}"
    elif [[ $1 == ht ]] && ! compgen -G "$upstream/evals/ht/data/complicated_big/hand12_*" >/dev/null; then
        echo "--max 11"
    fi
}

tool_command() {
    case $1 in
        engram) echo "$engram gradbench" ;;
        manual) echo "$python python/gradbench/gradbench/cpp.py manual" ;;
        pytorch | jax) echo "$python python/gradbench/gradbench/tools/$1/run.py" ;;
        *) echo "unknown tool $1" >&2; return 1 ;;
    esac
}

# Whether upstream lists the eval as one the tool runs: manual has a source file per eval;
# the Python tools list theirs in evals.txt, with a second word ("error", "timeout") on
# the ones upstream knows fail.
tool_runs_eval() {
    case $1 in
        engram) return 0 ;;
        manual) [[ -f tools/manual/$2.cpp ]] ;;
        *) grep -qx "$2" "tools/$1/evals.txt" ;;
    esac
}

export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
status=0
cd "$upstream" || exit 2
export PYTHONPATH="$upstream/python/gradbench${PYTHONPATH:+:$PYTHONPATH}"
for eval in "${evals[@]}"; do
    for tool in $tools; do
        if ! tool_runs_eval "$tool" "$eval"; then
            continue
        fi
        log="$logs/$eval-$tool.jsonl"
        echo "== $eval on $tool $(eval_args "$eval")" >&2
        start=$(date +%s)
        # shellcheck disable=SC2046 # the extra arguments are words on purpose
        "$gradbench" run --timeout "$timeout" -o "$log" \
            --eval "$python python/gradbench/gradbench/evals/$eval/run.py $(eval_args "$eval")" \
            --tool "$(tool_command "$tool")" >"$logs/$eval-$tool.out" 2>&1
        code=$?
        # An eval that dies before its first evaluate (a missing Python module, a missing
        # data file) still lets `gradbench run` exit 0: its traceback is the sign.
        if grep -q '^Traceback' "$logs/$eval-$tool.out"; then
            echo "   the eval failed: see $logs/$eval-$tool.out" >&2
            code=1
        fi
        echo "   exit $code after $(( $(date +%s) - start )) s" >&2
        [[ $code -eq 0 ]] || status=1
    done
done

echo
echo "# Verdicts (gradbench log summary)"
for eval in "${evals[@]}"; do
    for tool in $tools; do
        log="$logs/$eval-$tool.jsonl"
        [[ -f $log ]] || continue
        echo "## $eval on $tool"
        "$gradbench" log summary "$log" 2>&1 | sed 's/^/    /'
    done
done

echo
echo "# Median evaluate time per workload (a ratio is engram's time over the peer's)"
"$python" - "$logs" "$tools" "${evals[@]}" <<'PY'
import json, pathlib, statistics, sys

logs = pathlib.Path(sys.argv[1])

def runs(path):
    """(function, description) -> (median evaluate ns, verdict) from one log."""
    if not path.exists():
        return {}
    pending, result, result_ids = {}, {}, {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if "message" in entry:
            m = entry["message"]
            if m.get("kind") == "evaluate":
                pending[m["id"]] = (m["function"], m.get("description", ""))
            elif m.get("kind") == "analysis" and m.get("of") in result_ids:
                key = result_ids[m["of"]]
                result[key] = (result[key][0], "valid" if m.get("valid") else "INVALID")
        elif "response" in entry:
            r = entry["response"]
            key = pending.pop(r.get("id"), None)
            if key is None:
                continue
            if r.get("success"):
                ns = [t["nanoseconds"] for t in r.get("timings", []) if t["name"] == "evaluate"]
                result[key] = (statistics.median(ns) if ns else None, "?")
                result_ids[r["id"]] = key
            else:
                result[key] = (None, "failed: " + str(r.get("error", ""))[:60])
    return result

tools = sys.argv[2].split()
for name in sys.argv[3:]:
    found = {tool: runs(logs / f"{name}-{tool}.jsonl") for tool in tools}
    found = {tool: r for tool, r in found.items() if r}
    if "engram" not in found:
        continue
    peers = [tool for tool in found if tool != "engram"]
    print(f"\n## {name}")
    header = f"{'function':<10} {'workload':<24} {'engram ms':>12}"
    for peer in peers:
        header += f" {peer + ' ms':>12} {'ratio':>7}"
    print(header + "  verdict")
    keys = dict.fromkeys(k for r in found.values() for k in r)
    fmt = lambda v: f"{v / 1e6:12.3f}" if v is not None else f"{'-':>12}"
    for key in keys:
        e, verdict = found["engram"].get(key, (None, "not run"))
        line = f"{key[0]:<10} {key[1]:<24} {fmt(e)}"
        for peer in peers:
            p, _ = found[peer].get(key, (None, ""))
            line += f" {fmt(p)} " + (f"{e / p:7.2f}" if e and p else f"{'-':>7}")
        print(line + f"  {verdict}")
PY
exit $status

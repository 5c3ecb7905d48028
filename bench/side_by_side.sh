#!/usr/bin/env bash
# Side by side: `edgefit bench` against peer runtimes you built yourself, outside this
# repository, on the same GGUF files, with the same -p/-n/-t/-d, interleaved round by round so a
# neighbour's load or a bandwidth drift hits every runtime alike. Prints the median tokens/s of
# each runtime per file and test over the rounds and edgefit ÷ the best peer, with the CPU model.
#
#   bench/side_by_side.sh [--llama-bench PATH] [--ik-llama-bench PATH] [--edgefit PATH]
#                         [--rounds 3] [-p 512] [-n 128] [-t 2] [-d 0] [-r 1] MODEL.gguf...
#
# --llama-bench: llama.cpp's llama-bench (e.g. b4748); --ik-llama-bench: ik_llama.cpp's, run with
# -rtr 1 (its run-time repacking). Both are optional; the script never builds or downloads them.
# -p/-n/-t/-d take llama-bench's comma lists and go to every runtime unchanged (a peer too old
# for -d fails its runs, shown as "–"). Each round runs every runtime once per file (-r
# repetitions each, -o json), in an order that rotates from round to round. Needs jq.
set -euo pipefail

die() {
  echo "side_by_side.sh: error: $*" >&2
  exit 1
}
usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
edgefit="${EDGEFIT:-$here/../build/edgefit}"
llama_bench="" ik_bench="" rounds=3 p=512 n=128 t=2 d="" r=1
models=()
while (($#)); do
  case "$1" in
    --llama-bench) llama_bench="${2:?--llama-bench needs a path}"; shift 2 ;;
    --ik-llama-bench) ik_bench="${2:?--ik-llama-bench needs a path}"; shift 2 ;;
    --edgefit) edgefit="${2:?--edgefit needs a path}"; shift 2 ;;
    --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
    -p) p="${2:?-p needs a value}"; shift 2 ;;
    -n) n="${2:?-n needs a value}"; shift 2 ;;
    -t) t="${2:?-t needs a value}"; shift 2 ;;
    -d) d="${2:?-d needs a value}"; shift 2 ;;
    -r) r="${2:?-r needs a value}"; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "side_by_side.sh: usage error: unknown option $1" >&2; usage ;;
    *) models+=("$1"); shift ;;
  esac
done
((${#models[@]})) || { echo "side_by_side.sh: usage error: no GGUF files given" >&2; usage; }
[[ "$rounds" =~ ^[0-9]+$ ]] && ((rounds >= 1)) || die "--rounds must be a positive number"
command -v jq >/dev/null || die "needs jq (apt-get install jq)"
[ -x "$edgefit" ] || die "edgefit binary not found at $edgefit (build it, or pass --edgefit)"
for m in "${models[@]}"; do [ -f "$m" ] || die "no such GGUF file: $m"; done

# Runtimes: name and command prefix (the model goes after -m for peers, first for edgefit).
names=(edgefit)
[ -z "$llama_bench" ] || { [ -x "$llama_bench" ] || die "not executable: $llama_bench"; names+=(llama.cpp); }
[ -z "$ik_bench" ] || { [ -x "$ik_bench" ] || die "not executable: $ik_bench"; names+=(ik_llama.cpp); }

common=(-p "$p" -n "$n" -t "$t" -r "$r" -o json)
[ -z "$d" ] || common+=(-d "$d")

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
results="$work/results.tsv"  # runtime, model, threads, test, tokens/s: one line per test and round
: >"$results"

# Runs one runtime on one model; appends its tests to $results. A failed run is reported on
# stderr and leaves no line (shown as "–").
run_one() {
  local name="$1" model="$2" out="$work/out.json" err="$work/err.txt"
  local cmd
  case "$name" in
    edgefit) cmd=("$edgefit" bench "$model" "${common[@]}") ;;
    llama.cpp) cmd=("$llama_bench" -m "$model" "${common[@]}") ;;
    ik_llama.cpp) cmd=("$ik_bench" -m "$model" -rtr 1 "${common[@]}") ;;
  esac
  if ! "${cmd[@]}" >"$out" 2>"$err"; then
    echo "side_by_side.sh: $name failed on $model: $(tail -n 1 "$err")" >&2
    return 0
  fi
  if ! jq -e 'type == "array" and length > 0' "$out" >/dev/null 2>&1; then
    echo "side_by_side.sh: $name printed no llama-bench JSON on $model" >&2
    return 0
  fi
  # llama-bench's test names: ppN, tgN, ppN+tgM, with " @ dD" at a depth.
  jq -r --arg name "$name" --arg model "$(basename "$model")" '
      .[] | (.n_depth // 0) as $d | .avg_ts as $ts | .n_threads as $th
      | (if .n_gen == 0 then "pp\(.n_prompt)" elif .n_prompt == 0 then "tg\(.n_gen)"
         else "pp\(.n_prompt)+tg\(.n_gen)" end) + (if $d > 0 then " @ d\($d)" else "" end)
      | [$name, $model, ($th|tostring), ., ($ts|tostring)] | @tsv' "$out" >>"$results"
}

k=${#names[@]}
for ((round = 0; round < rounds; round++)); do
  echo "side_by_side.sh: round $((round + 1))/$rounds" >&2
  for m in "${models[@]}"; do
    for ((i = 0; i < k; i++)); do run_one "${names[(i + round) % k]}" "$m"; done
  done
done

cpu="$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*: *//')"
echo "CPU: ${cpu:-unknown}; -p $p -n $n -t $t${d:+ -d $d} -r $r; medians of $rounds interleaved rounds (tokens/s)"
echo
# Medians per (runtime, model, threads, test), then one row per (model, threads, test).
sort -t$'\t' -k1,1 -k2,2 -k3,3n -k4,4 -k5,5g "$results" | awk -F'\t' -v names="${names[*]}" '
  { key = $2 "\t" $3 "\t" $4; k = $1 "\t" key; vals[k, ++cnt[k]] = $5
    if (!(key in seen)) { seen[key] = 1; order[++nkeys] = key } }
  function median(k,   c) { c = cnt[k]; if (!c) return ""
    return c % 2 ? vals[k, (c + 1) / 2] : (vals[k, c / 2] + vals[k, c / 2 + 1]) / 2 }
  END {
    nn = split(names, nm, " ")
    printf "| model | threads | test |"; for (i = 1; i <= nn; i++) printf " %s |", nm[i]
    printf " edgefit / best peer |\n|---|---:|---|"; for (i = 1; i <= nn; i++) printf "---:|"
    printf "---:|\n"
    for (o = 1; o <= nkeys; o++) {
      key = order[o]; split(key, f, "\t"); best = ""
      printf "| %s | %s | %s |", f[1], f[2], f[3]
      for (i = 1; i <= nn; i++) {
        m = median(nm[i] "\t" key)
        if (m == "") printf " – |"; else printf " %.2f |", m
        if (i > 1 && m != "" && (best == "" || m + 0 > best + 0)) best = m
      }
      e = median("edgefit\t" key)
      if (e == "" || best == "" || best + 0 == 0) printf " – |\n"; else printf " %.2f |\n", e / best
    }
  }'

#!/usr/bin/env bash
# Secrets engine benchmark: our throughput (1 thread and all cores) and recall on a corpus of
# real source with planted synthetic secrets, against `secretlint` (recommended preset) on a
# smaller slice of the same corpus (secretlint is far slower; its throughput is measured there).
#
# usage: bench/secrets_bench.sh [build_dir] [corpus_mb=200] [planted=500] [slice_mb=8] [slice_planted=130]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
CORPUS_MB=${2:-200}
PLANTED=${3:-500}
SLICE_MB=${4:-8}
SLICE_PLANTED=${5:-130}
WORK=$(mktemp -d /tmp/secrets-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

ninja -C "$BUILD" secrets_bench >/dev/null
BENCH="$BUILD/src/scanners/secrets_bench"

apparent_mb() { du -sm --apparent-size "$1" | cut -f1; }

echo "== building corpus (>= ${CORPUS_MB} MB of /usr/include + /usr/share/doc text) in $WORK"
mkdir -p "$WORK/corpus"
i=0
while [ "$(apparent_mb "$WORK/corpus")" -lt "$CORPUS_MB" ]; do
  cp -r /usr/include "$WORK/corpus/include$i"
  mkdir -p "$WORK/corpus/doc$i"
  (cd /usr/share/doc && find . -type f ! -name '*.gz' -size -2M -print0 | tar --null -cf - -T - 2>/dev/null) |
    (cd "$WORK/corpus/doc$i" && tar -xf -) || true
  i=$((i + 1))
done
echo "corpus: $(apparent_mb "$WORK/corpus") MB, $(find "$WORK/corpus" -type f | wc -l) files"
"$BENCH" plant "$WORK/corpus" "$PLANTED" "$WORK/planted.tsv"

echo "== secplat-secrets on the full corpus"
"$BENCH" scan "$WORK/corpus" "$WORK/planted.tsv" | tee "$WORK/ours.txt"
echo "== the engine alone (the corpus in one buffer, no file system)"
"$BENCH" buffer "$WORK/corpus" | tee -a "$WORK/ours.txt"

echo "== slice for the secretlint comparison (~${SLICE_MB} MB)"
mkdir -p "$WORK/slice"
(cd /usr/include && find . -type f -name '*.h' | sort | head -n 100000 | while read -r f; do
   mkdir -p "$WORK/slice/$(dirname "$f")"; cp "$f" "$WORK/slice/$f"
   [ "$(du -sm --apparent-size "$WORK/slice" | cut -f1)" -ge "$SLICE_MB" ] && break
 done) || true
echo "slice: $(apparent_mb "$WORK/slice") MB, $(find "$WORK/slice" -type f | wc -l) files"
"$BENCH" plant "$WORK/slice" "$SLICE_PLANTED" "$WORK/slice_planted.tsv"
SLICE_BYTES=$(du -sb --apparent-size "$WORK/slice" | cut -f1)
"$BENCH" scan "$WORK/slice" "$WORK/slice_planted.tsv" 1 | tee "$WORK/ours_slice.txt"

echo "== installing secretlint with npm"
mkdir -p "$WORK/npm"
(cd "$WORK/npm" && npm init -y >/dev/null 2>&1 &&
 npm install --no-audit --no-fund --loglevel=error secretlint @secretlint/secretlint-rule-preset-recommend >/dev/null 2>&1)
SECRETLINT="$WORK/npm/node_modules/.bin/secretlint"
echo "secretlint $("$SECRETLINT" --version)"
echo '{"rules":[{"id":"@secretlint/secretlint-rule-preset-recommend"}]}' > "$WORK/secretlintrc.json"

echo "== secretlint on the slice"
START=$(date +%s.%N)
(cd "$WORK/slice" && "$SECRETLINT" "**/*" --secretlintrc "$WORK/secretlintrc.json" --format json \
   --output "$WORK/secretlint.json" >/dev/null 2>&1) || true
END=$(date +%s.%N)

python3 - "$WORK" "$SLICE_BYTES" "$START" "$END" <<'PY'
import json, os, re, sys
work, slice_bytes, start, end = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
secs = end - start
def kv(path):
    out = {}
    for line in open(path):
        for k, v in re.findall(r"(\w+)=(\S+)", line):
            out[k] = v
    return out
ours, ours_slice = kv(f"{work}/ours.txt"), kv(f"{work}/ours_slice.txt")
planted = [l.rstrip("\n").split("\t") for l in open(f"{work}/slice_planted.tsv")]
found = {}
try:
    data = json.load(open(f"{work}/secretlint.json"))
except Exception as e:
    data = []
    print("secretlint output unreadable:", e)
for entry in data:
    path = os.path.relpath(entry.get("filePath", ""), f"{work}/slice")
    for m in entry.get("messages", []):
        line = (m.get("loc") or {}).get("start", {}).get("line") or m.get("line")
        if line: found.setdefault(path, []).append(int(line))
hit, missed = 0, {}
for path, first, last, rule in planted:
    if any(int(first) <= l <= int(last) for l in found.get(path, [])): hit += 1
    else: missed[rule] = missed.get(rule, 0) + 1
sl_recall = hit / len(planted) if planted else 1.0
sl_gbps = slice_bytes / 1e9 / secs
one = float(next(v for k, v in ours.items() if k == "secplat_1thread_gbps"))
allc_key = next(k for k in ours if k.endswith("threads_gbps"))
allc = float(ours[allc_key])
print("")
print(f"secretlint: {slice_bytes/1e6:.1f} MB in {secs:.1f} s = {sl_gbps*1000:.2f} MB/s, recall {sl_recall:.3f} "
      f"({hit}/{len(planted)} planted)")
print(f"secplat:    1 thread {one:.3f} GB/s, {allc_key.split('_')[1]} {allc:.3f} GB/s, "
      f"recall {float(ours['secplat_recall']):.3f} (full corpus), {float(ours_slice['secplat_recall']):.3f} (slice)")
print(f"engine alone: {float(ours['secplat_buffer_gbps']):.3f} GB/s on one core; "
      f"reading the tree without scanning: {float(ours['read_only_gbps']):.3f} GB/s")
print(f"speed ratio vs secretlint: {one/sl_gbps:.0f}x (1 thread), {allc/sl_gbps:.0f}x (all cores)")
print("kinds secretlint missed:", ", ".join(sorted(missed)) or "none")
PY

#!/usr/bin/env bash
# Builds and runs a libFuzzer target for a while.
#
#   scripts/fuzz.sh TARGET [SECONDS]      TARGET: protocol | config; SECONDS default 60
#
# Each target is one Swift file in Fuzz/ compiled with `swiftc -sanitize=fuzzer,address`
# together with the sources of the modules it exercises (their cross-module imports removed,
# since they become one module here). The seed corpus is Fuzz/corpus/TARGET (kept in git);
# new inputs go to .fuzz/TARGET; crashes to .fuzz/crashes-TARGET. Exit status is libFuzzer's:
# 0 when nothing was found.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh protocol|config [SECONDS]}
seconds=${2:-60}
case "$target" in
  protocol) entry=Fuzz/ProtocolDecoderFuzz.swift; modules="SteadyCore SteadyProtocol" ;;
  config)   entry=Fuzz/ConfigParserFuzz.swift;   modules="SteadyCore SteadyConfig" ;;
  *) echo "unknown fuzz target '$target' (protocol | config)" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for m in $modules; do
  for f in Sources/$m/*.swift; do
    sed -E '/^(@testable )?import Steady[A-Za-z]+$/d' "$f" > "$work/${m}_$(basename "$f")"
  done
done
bin=.fuzz/bin/fuzz-$target
mkdir -p .fuzz/bin ".fuzz/$target" ".fuzz/crashes-$target"
swiftc -sanitize=fuzzer,address -parse-as-library -module-name SteadyFuzz -O "$entry" "$work"/*.swift -o "$bin" 2>&1 \
  | { grep -v "Cannot export local symbol" || true; }
echo "fuzzing $target for ${seconds}s ($bin)"
"$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=".fuzz/crashes-$target/" \
  ".fuzz/$target" "Fuzz/corpus/$target" 2>&1 | tee ".fuzz/$target.log" | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|Done)' || true
exit "${PIPESTATUS[0]}"

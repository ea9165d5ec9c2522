#!/usr/bin/env bash
# Builds and runs a libFuzzer target for a while.
#
#   scripts/fuzz.sh TARGET [SECONDS]      TARGET: protocol | config | responses | all;
#                                         SECONDS default 60 (each, for all)
#
# Each target is one Swift file in Fuzz/ compiled with `swiftc -sanitize=fuzzer,address`
# together with the sources of the modules it exercises (their cross-module imports removed,
# since they become one module here). The seed corpus is Fuzz/corpus/TARGET (kept in git);
# new inputs go to .fuzz/TARGET; crashes to .fuzz/crashes-TARGET. Exit status is libFuzzer's:
# 0 when nothing was found.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh protocol|config|responses|all [SECONDS]}
seconds=${2:-60}
if [ "$target" = all ]; then
  # Every target runs; the status is the first failure's.
  status=0
  for t in protocol config responses; do "$0" "$t" "$seconds" || { [ "$status" -ne 0 ] || status=$?; }; done
  exit "$status"
fi
extra=()
case "$target" in
  protocol)  entry=Fuzz/ProtocolDecoderFuzz.swift;  modules="SteadyCore SteadyJSON SteadyProtocol" ;;
  config)    entry=Fuzz/ConfigParserFuzz.swift;    modules="SteadyCore SteadyConfig" ;;
  responses) entry=Fuzz/PlatformResponseFuzz.swift; modules="SteadyCore SteadyHTTP SteadyJSON SteadyPlatforms" ;;
  *) echo "unknown fuzz target '$target' (protocol | config | responses | all)" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for m in $modules; do
  for f in Sources/$m/*.swift; do
    sed -E '/^(@testable |@_exported )?import Steady[A-Za-z]+$/d' "$f" > "$work/${m}_$(basename "$f")"
  done
done
if [ "$target" = responses ]; then
  # SteadyHTTP's client loads libcurl through the small C loader: compile it and give swiftc
  # its module map (nothing here calls libcurl; it only has to link).
  mkdir -p "$work/CCurlLoader"
  printf 'module CCurlLoader {\n  header "%s"\n  link "dl"\n  export *\n}\n' "$PWD/Sources/CCurlLoader/include/ccurl_loader.h" > "$work/CCurlLoader/module.modulemap"
  clang -c -O1 -fsanitize=address -I Sources/CCurlLoader/include Sources/CCurlLoader/ccurl_loader.c -o "$work/ccurl_loader.o"
  extra=(-I "$work/CCurlLoader" "$work/ccurl_loader.o" -ldl)
fi
bin=.fuzz/bin/fuzz-$target
mkdir -p .fuzz/bin ".fuzz/$target" ".fuzz/crashes-$target"
swiftc -sanitize=fuzzer,address -parse-as-library -module-name SteadyFuzz -O "$entry" "$work"/*.swift "${extra[@]}" -o "$bin" 2>&1 \
  | { grep -v "Cannot export local symbol" || true; }
echo "fuzzing $target for ${seconds}s ($bin)"
# libFuzzer's own status decides (nonzero on any finding); the log is filtered only for show.
status=0
"$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=".fuzz/crashes-$target/" \
  ".fuzz/$target" "Fuzz/corpus/$target" > ".fuzz/$target.log" 2>&1 || status=$?
grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|Done|\*\*\* Program crashed|SUMMARY)' ".fuzz/$target.log" || true
if [ "$status" -ne 0 ]; then
  echo "fuzz target $target FOUND A FAILURE (exit $status): the input is in .fuzz/crashes-$target/, the log in .fuzz/$target.log:" >&2
  grep -A12 -E '^\*\*\* Program crashed|==[0-9]+==ERROR' ".fuzz/$target.log" | head -30 >&2 || true
fi
exit "$status"

#!/usr/bin/env bash
# Runs every fuzz target for a fixed budget and prints the executions of each.
#   fuzz/campaign.sh SECONDS [TARGET...]
# New inputs go to a scratch corpus (the committed fuzz/corpus/<target> is read, never written);
# a crash leaves its input in fuzz/artifacts/<target>/ and makes the script exit 1 after the
# remaining targets ran. Needs nightly and cargo-fuzz.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:?usage: fuzz/campaign.sh SECONDS [TARGET...]}"
shift
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cargo +nightly fuzz build -O >/dev/null || exit 1
failed=()
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target"
  log="$scratch/$target.log"
  if cargo +nightly fuzz run -O "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
    failed+=("$target")
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -5
  fi
  execs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)"
  printf '%-18s %-6s %12s execs in %ss\n' "$target" "$status" "${execs:-?}" "$seconds"
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/; minimise with cargo +nightly fuzz tmin -O TARGET FILE)"
  exit 1
fi

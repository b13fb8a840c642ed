#!/usr/bin/env bash
# Run every libFuzzer target for SECONDS each (default 60), one after the other, or the targets
# named after it. Builds them with clang into build-fuzz/ (LUCENT_FUZZ=ON: ASan + UBSan +
# libFuzzer). Each target starts from its seed corpus (tests/fuzz/corpus/<name>, read-only
# here) and grows a working corpus in build-fuzz/corpus/<name>; a crash is written to
# build-fuzz/crashes/<name>/ and fails the run: fix it and add the input to the seed corpus,
# where `make test` replays it from then on.
#
#   scripts/fuzz.sh 600            # every target, 10 minutes each
#   scripts/fuzz.sh 60 json proto  # two targets
#   JOBS=2 FUZZ_NICE=15 scripts/fuzz.sh 600
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-60}"
shift || true
all=(json proto pusher config jwt proxy lua http ws)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
out="$repo/build-fuzz"
cc="${FUZZ_CC:-$(command -v clang-14 || command -v clang)}"

cmake -S "$repo" -B "$out" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
    -DLUCENT_FUZZ=ON -DLUCENT_TESTS=OFF >/dev/null
cmake --build "$out" -j "${JOBS:-2}" --target "${targets[@]/#/fuzz_}" >/dev/null

status=0
for t in "${targets[@]}"; do
    corpus="$out/corpus/$t"
    crashes="$out/crashes/$t"
    mkdir -p "$corpus" "$crashes"
    dict=()
    [[ -f "$repo/tests/fuzz/dict/$t.dict" ]] && dict=(-dict="$repo/tests/fuzz/dict/$t.dict")
    echo "fuzz: $t for ${secs}s"
    # leak checks stay on; the server thread of the transport targets holds its state for the
    # whole process, reachable, so it is never reported
    if ! nice -n "${FUZZ_NICE:-10}" "$out/tests/fuzz/fuzz_$t" "${dict[@]}" \
        -max_total_time="$secs" -max_len="${FUZZ_MAX_LEN:-8192}" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashes/" \
        "$corpus" "$repo/tests/fuzz/corpus/$t" 2>"$out/$t.log"; then
        echo "fuzz: $t FAILED (see $out/$t.log and $crashes/)"
        status=1
    fi
    grep -aE "DONE|^stat::number_of_executed_units|^stat::peak_rss_mb" "$out/$t.log" || true
done
exit $status

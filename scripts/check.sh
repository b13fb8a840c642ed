#!/usr/bin/env bash
# Static checks of the C code: clang-format against the repository's .clang-format, then
# clang-tidy with the repository's .clang-tidy (bugprone, cert, clang-analyzer, thread-unsafe
# libc calls, close-on-exec) over every file of src/, compiled as the test build compiles them
# (its compile_commands.json). Any finding fails the run. CONTRIBUTING.md says how to read and
# silence one.
#
#   scripts/check.sh                 # everything
#   scripts/check.sh src/proto       # clang-tidy on the files under a path only
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD:-$repo/build-test}"
cd "$repo"

tidy="$(command -v run-clang-tidy-14 || command -v run-clang-tidy || true)"
if [[ -z "$tidy" ]]; then
    echo "check: run-clang-tidy not found (scripts/deps.sh installs clang-tidy)" >&2
    exit 1
fi

clang-format --dry-run --Werror $(git ls-files 'src/*.[ch]' 'tests/unit/*.[ch]' 'tests/fuzz/*.[ch]')
echo "check: clang-format clean"

cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DLUCENT_SANITIZE=ON >/dev/null
paths=("$@")
((${#paths[@]})) || paths=(src/)
# run-clang-tidy takes regexes of file names; the generated llhttp sources are not ours
regex=()
for p in "${paths[@]}"; do regex+=("$repo/${p%/}/.*\.c$"); done
nice -n "${CHECK_NICE:-10}" "$tidy" -p "$build" -j "${JOBS:-2}" -quiet -warnings-as-errors='*' \
    "${regex[@]}"
echo "check: clang-tidy clean"

#!/usr/bin/env bash
# The test command of README.md: installs every external reader the suite uses (when
# missing), then checks formatting and lints and runs the whole test suite. Tests that start
# services (the distribution registry, HTTP depots) start their own on 127.0.0.1 with free
# ports and temp dirs, and stop them.
#
# FORGER_SLOW_TESTS=1 also runs the slow tests: mmdebstrap payloads, QEMU boot tests, large
# files. CI sets it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then
  bash scripts/install-test-deps.sh
else
  sudo bash scripts/install-test-deps.sh
fi

# One build, no edit-compile loop: incremental state would only take disk (1.5 GB here).
export CARGO_INCREMENTAL=0
# The suite needs several GB of scratch (Debian trees, disk images, the trybuild target); a
# full disk fails late and confusingly, so the log says up front what there is.
df -h . "${TMPDIR:-/tmp}"
trap 'df -h . "${TMPDIR:-/tmp}"' EXIT

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --no-fail-fast

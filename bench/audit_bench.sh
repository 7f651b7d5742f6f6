#!/usr/bin/env bash
# Speed of `glassbox audit` and of its unpacking alone, on:
#   - bundle.js: a generated 12 MB JavaScript bundle (fixed seed);
#   - bun-250mb-file: a Bun single-file executable of about 250 MB, the bundle
#     plus a 140 MB embedded binary asset (`with { type: "file" }`);
#   - bun-250mb-text: the same padded with 140 MB of embedded text instead
#     (`with { type: "text" }`), the worst case: every byte is module text;
#   - real agent packages fetched with `npm pack` at bench time (never in
#     tests): the latest and the previous release of several coding agents.
# Each is compared, in the same run, with what a user would do by hand:
# `strings -a -n 6` for an executable, `tar -xzf` for a tarball, `cat` for a
# bundle.
#
# Usage: bench/audit_bench.sh GLASSBOX_BINARY [AUDIT_UNPACK_BENCH_BINARY]
#   The second defaults to src/audit/audit_unpack_bench beside the first.
# Environment (all optional):
#   BENCH_RUNS=3                   runs per command; the best wall time is kept
#   BENCH_AUDIT_PACKAGES="..."     npm package names (default: Claude Code,
#                                  Gemini CLI, Codex CLI, Qwen Code)
#   BENCH_AUDIT_OFFLINE=1          skip the npm packages
#   GLASSBOX_NPM_TEST_TOOLS=DIR    node_modules/.bin holding bun (default
#                                  build/npm-test-tools/node_modules/.bin)
# Generated files are kept in build/bench-audit and reused.
set -euo pipefail
export LC_ALL=C

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  echo "usage: $0 GLASSBOX_BINARY [AUDIT_UNPACK_BENCH_BINARY]" >&2
  exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
glassbox=$(realpath "$1")
unpack_bench=$(realpath "${2:-$(dirname "$glassbox")/src/audit/audit_unpack_bench}")
for b in "$glassbox" "$unpack_bench"; do
  [[ -x $b ]] || { echo "audit_bench: $b is not an executable" >&2; exit 2; }
done
tools=${GLASSBOX_NPM_TEST_TOOLS:-$here/build/npm-test-tools/node_modules/.bin}
[[ -x $tools/bun ]] || { echo "audit_bench: $tools/bun missing: run scripts/bootstrap.sh --test" >&2; exit 2; }
runs=${BENCH_RUNS:-3}
work="$here/build/bench-audit"
mkdir -p "$work/src" "$work/packages"

# ------------------------------------------------------------ fixtures
# Until the table, anything the tools print goes to stderr.
exec 3>&1 1>&2
if [[ ! -s $work/src/bundle.js ]]; then
  python3 - "$work/src/bundle.js" <<'PY'
import base64, random, sys
random.seed(6)
words = "alpha beta gamma delta render prompt config session token model stream retry cache user".split()
hosts = ["api.example.com", "telemetry.example.net", "cdn.example.org", "statsig.example.io"]
zones = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
out, size, n = [], 0, 0
while size < 12_000_000:
    n += 1
    w = random.sample(words, 4)
    kind = n % 6
    if kind == 0:
        s = f'function {w[0]}_{n}(a, b) {{ const t = Intl.DateTimeFormat().resolvedOptions().timeZone; return {zones!r}.includes(t) ? a + "{w[1]}" : b; }}\n'
    elif kind == 1:
        s = f'const {w[0]}{n} = await fetch("https://{random.choice(hosts)}/v1/{w[2]}/{n}", {{ method: "POST", body: JSON.stringify({{ {w[3]}: {n} }}) }});\n'
    elif kind == 2:
        enc = base64.b64encode(f"{w[0]}.{random.choice(hosts)}".encode()).decode()
        s = f'var _{n} = ["{enc}", "{w[1]}", "{w[2]}"]; function d{n}(i) {{ return Buffer.from(_{n}[i], "base64").toString(); }}\n'
    elif kind == 3:
        s = f'export class {w[0].title()}{n} {{ constructor(o) {{ this.{w[1]} = o.{w[2]} ?? process.env.{w[3].upper()}_{n}; }} get {w[3]}() {{ return this.{w[1]}; }} }}\n'
    elif kind == 4:
        s = f'if (process.env.HTTPS_PROXY && require("os").hostname().endsWith(".{w[0]}.corp")) {{ console.warn("{" ".join(w)}"); }}\n'
    else:
        s = "// " + " ".join(random.choice(words) for _ in range(16)) + "\n"
    out.append(s)
    size += len(s)
open(sys.argv[1], "w").write("".join(out))
PY
fi
# Issue 14: a 33 MB Node-style bundle whose ~15,000 hidden strings all go
# through one decoder with a 12-character default-parameter key.
if [[ ! -s $work/src/decoder-bundle.js ]]; then
  python3 - "$work/src/decoder-bundle.js" <<'PY'
import base64, random, sys
random.seed(14)
key = "Zq7!pR2#xLm9"
def enc(s):
    b = s.encode()
    return base64.b64encode(bytes(b[i] ^ ord(key[i % len(key)]) for i in range(len(b)))).decode()
words = "alpha beta gamma delta render prompt config session token model stream retry cache user".split()
out = [f'const _$d=(s,k="{key}")=>{{const b=Buffer.from(s,"base64");for(let i=0;i<b.length;i++)b[i]^=k.charCodeAt(i%k.length);return b.toString()}};\n']
size, n = len(out[0]), 0
while size < 33_000_000:
    n += 1
    if n % 64 == 0:
        w = random.sample(words, 3)
        s = f'const v{n}=_$d("{enc("_".join(w) + "_" + str(n))}"),h{n}=_$d("{enc(w[0] + str(n) + ".example-" + w[1] + ".com")}");\n'
    else:
        w = random.sample(words, 4)
        s = f'function {w[0]}_{n}(a,b){{const t=a.{w[1]}??b.{w[2]};return t?{{{w[3]}:t,n:{n}}}:null}}\n'
    out.append(s)
    size += len(s)
open(sys.argv[1], "w").write("".join(out))
PY
fi
if [[ ! -s $work/src/pad.bin || ! -s $work/src/pad.txt ]]; then
  head -c 140000000 /dev/urandom >"$work/src/pad.bin"
  python3 - "$work/src/pad.txt" <<'PY'
import random, sys
random.seed(7)
words = "alpha beta gamma delta https://api.example.com/v1/ timezone Asia/Shanghai config telemetry".split()
with open(sys.argv[1], "w") as f:
    size = 0
    while size < 140_000_000:
        line = " ".join(random.choice(words) for _ in range(12)) + "\n"
        f.write(line)
        size += len(line)
PY
fi
for pad in file text; do
  exe="$work/bun-250mb-$pad"
  if [[ ! -s $exe ]]; then
    ext=$([[ $pad == file ]] && echo bin || echo txt)
    printf 'import pad from "./pad.%s" with { type: "%s" };\nimport "./bundle.js";\nconsole.log(String(pad).length);\n' \
      "$ext" "$pad" >"$work/src/main-$pad.js"
    (cd "$work/src" && "$tools/bun" build --compile "main-$pad.js" --outfile "$exe" >/dev/null)
  fi
done

# ------------------------------------------------------ real packages
targets=("$work/src/bundle.js" "$work/src/decoder-bundle.js" "$work/bun-250mb-file" "$work/bun-250mb-text")
# Local copies of real agents (issue 14's speed targets: Claude Code's
# linux-x64 executable and a 33 MB bundle with ~15k decoder calls), e.g.
# BENCH_AUDIT_EXTRA="claude qoder-ai-qodercli-1.1.52.tgz".
for extra in ${BENCH_AUDIT_EXTRA:-}; do
  [[ -s $extra ]] && targets+=("$(realpath "$extra")") || echo "audit_bench: $extra missing; skipped" >&2
done
if [[ ${BENCH_AUDIT_OFFLINE:-0} != 1 ]]; then
  packages=${BENCH_AUDIT_PACKAGES:-"@anthropic-ai/claude-code @google/gemini-cli @openai/codex @qwen-code/qwen-code"}
  # pack NAME@VERSION: prints the tarball's path (cached by npm's own name).
  pack() {
    local name
    name=$(echo "$1" | sed -e 's/^@//' -e 's|/|-|' -e 's/@/-/')
    local cached="$work/packages/$name.tgz"
    if [[ ! -s $cached ]]; then
      cached=$(cd "$work/packages" && npm pack --silent "$1" 2>/dev/null | tail -1)
      [[ -n $cached ]] && cached="$work/packages/$cached"
    fi
    [[ -n $cached && -s $cached ]] && echo "$cached"
  }
  for p in $packages; do
    # The latest and the previous stable release.
    versions=$(npm view "$p" versions --json 2>/dev/null |
      python3 -c 'import json,sys,re; v=[x for x in json.load(sys.stdin) if re.fullmatch(r"[0-9.]+",x)]; print(" ".join(v[-2:]))' ||
      true)
    for v in $versions; do
      file=$(pack "$p@$v") || { echo "audit_bench: npm pack $p@$v failed; skipped" >&2; continue; }
      targets+=("$file")
      # Agents that ship their own executable per platform (a dependency
      # named like the agent, ending in linux-x64): that tarball, and the
      # executable unpacked from it so that audit opens it directly too.
      platform=$(npm view "$p@$v" optionalDependencies --json 2>/dev/null |
        P="$p" python3 -c 'import json,os,sys; d=json.loads(sys.stdin.read().strip() or "{}"); p=os.environ["P"]; print(next((v[4:] if v.startswith("npm:") else k+"@"+v for k,v in d.items() if k.startswith(p) and k.endswith("linux-x64")), ""))' ||
        true)
      [[ -z $platform ]] && continue
      ptgz=$(pack "$platform") || { echo "audit_bench: npm pack $platform failed; skipped" >&2; continue; }
      targets+=("$ptgz")
      pdir="${ptgz%.tgz}"
      if [[ ! -d $pdir ]]; then mkdir -p "$pdir" && tar -xzf "$ptgz" -C "$pdir"; fi
      # The largest file in the platform package is the executable.
      exe=$(find "$pdir" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
      [[ -n $exe ]] && targets+=("$exe")
    done
  done
fi

# ------------------------------------------------------------- timing
# "WALL CPU RSS": best wall and best user+sys seconds of $runs runs of "$@",
# and the lowest peak resident memory in MB (- without /usr/bin/time).
best_of() {
  local best="" best_cpu="" best_rss="" out real user sys rss cpu tf
  tf=$(mktemp)
  for ((i = 0; i < runs; i++)); do
    if [[ -x /usr/bin/time && $(type -t "$1") == file ]]; then
      /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >/dev/null 2>&1 || true
      out=$(tail -1 "$tf")
    else
      out="$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1; } 2>&1 | tail -1) -" || true
    fi
    read -r real user sys rss <<<"$out"
    cpu=$(echo "$user + $sys" | bc -l)
    if [[ -z $best ]] || (($(echo "$real < $best" | bc -l))); then best=$real; fi
    if [[ -z $best_cpu ]] || (($(echo "$cpu < $best_cpu" | bc -l))); then best_cpu=$cpu; fi
    if [[ $rss != - ]] && { [[ -z $best_rss ]] || ((rss < best_rss)); }; then best_rss=$rss; fi
  done
  rm -f "$tf"
  printf '%.3f %.3f %s' "$best" "$best_cpu" "$([[ -n $best_rss ]] && echo $((best_rss / 1024)) || echo -)"
}
peer() {  # what a user would run by hand on this target
  case $1 in
    *.tgz) local d; d=$(mktemp -d); tar -xzf "$1" -C "$d"; rm -rf "$d" ;;
    *.js) cat "$1" ;;
    *) strings -a -n 6 "$1" ;;
  esac
}
audit_supported=1
probe_err=$("$glassbox" audit --format json "$work/src/bundle.js" 2>&1 >/dev/null || true)
if [[ $probe_err == *"not built yet"* ]]; then
  audit_supported=0
  echo "audit_bench: this glassbox has no 'audit' yet; timing the unpacking only" >&2
fi

exec 1>&3 3>&-
printf '| target | MB | kind | modules | unpack s (cpu) | audit s (cpu) | audit peak MB | peer | peer s (cpu) |\n'
printf '|---|---:|---|---:|---:|---:|---:|---|---:|\n'
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1].strip() or "{}"); v=d.get(sys.argv[2],"error"); print("%.3f" % v if isinstance(v,float) else v)' "$1" "$2"; }
for t in "${targets[@]}"; do
  mb=$(echo "$(stat -c %s "$t") / 1000000" | bc -l)
  line=$("$unpack_bench" "$t" 2>/dev/null | tail -1 || true)
  audit=- rss=-
  if [[ $audit_supported == 1 ]]; then
    read -r w c rss <<<"$(best_of "$glassbox" audit --format json "$t")"
    audit="$w ($c)"
  fi
  case $t in *.tgz) pname="tar -xzf" ;; *.js) pname="cat" ;; *) pname="strings -n 6" ;; esac
  read -r pw pc _ <<<"$(best_of peer "$t")"
  printf '| %s | %.1f | %s | %s | %s (%s) | %s | %s | %s | %s (%s) |\n' "$(basename "$t")" "$mb" "$(field "$line" kind)" \
    "$(field "$line" modules)" "$(field "$line" seconds)" "$(field "$line" cpu_seconds)" "$audit" "$rss" "$pname" "$pw" "$pc"
done

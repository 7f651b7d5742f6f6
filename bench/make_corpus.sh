#!/usr/bin/env bash
# Builds a benchmark corpus of real text files copied from this machine.
#
# Usage: bench/make_corpus.sh OUT_DIR [MB]      (MB: decimal megabytes, default 400)
#
# Sources (whichever exist), each copied to OUT_DIR/<source-name>/<path under the source>:
#   /usr/include, /usr/share/doc, the Python standard library (sysconfig "stdlib",
#   without site-packages), that Python's site-packages, /usr/lib/python3*, and Node.js
#   packages (/usr/lib/node_modules, /usr/local/lib/node_modules, /usr/share/nodejs).
#
# Only regular, non-empty text files are taken: symlinks are never followed or copied,
# compressed files (.gz, .xz, ...), byte code and objects are skipped by name, and
# anything else containing a NUL byte is skipped as binary (grep -I).
#
# Selection is deterministic: every source's file list is sorted (LC_ALL=C) and files
# are taken in that order. Sources are visited smallest first; each gets an equal
# share of what is still missing from the target, so a source that runs out leaves its
# share to the larger ones. Copying stops once the target is reached.
#
# Idempotent: a finished corpus is recorded in OUT_DIR.stamp (beside OUT_DIR, so the
# corpus holds nothing but copied files); when the stamp matches, nothing is done.
set -euo pipefail
export LC_ALL=C

if [[ $# -lt 1 || $# -gt 2 || ${1:-} == -h || ${1:-} == --help ]]; then
  echo "usage: $0 OUT_DIR [MB]" >&2
  exit 2
fi
out=${1%/}
mb=${2:-400}
[[ $mb =~ ^[1-9][0-9]*$ ]] || { echo "make_corpus: MB must be a positive integer, got '$mb'" >&2; exit 2; }
target=$((mb * 1000000))

format_version=1
stamp="$out.stamp"
building="$out.building"
want="glassbox-bench-corpus v$format_version target_mb=$mb"

if [[ -f $stamp && -d $out ]] && [[ $(head -n1 "$stamp") == "$want" ]]; then
  echo "make_corpus: reusing $out ($(sed -n 2p "$stamp"))" >&2
  exit 0
fi

# Never delete a directory this script did not create.
if [[ -e $out ]]; then
  if [[ -f $stamp || -f $building ]] || [[ -d $out && -z $(ls -A "$out") ]]; then
    rm -rf "$out"
  else
    echo "make_corpus: $out exists and was not made by this script; refusing to overwrite" >&2
    exit 2
  fi
fi
rm -f "$stamp"
mkdir -p "$(dirname "$out")"
: >"$building"
mkdir -p "$out"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- sources: name|root|directories to prune (colon separated, relative to root) ----
sources=()
add_source() {  # name root [prune...]
  local name=$1 root=$2
  shift 2
  [[ -d $root ]] || return 0
  root=$(realpath "$root")
  local s
  for s in "${sources[@]}"; do
    [[ ${s#*|} == "$root|"* ]] && return 0   # same directory reached twice
  done
  local IFS=:
  sources+=("$name|$root|$*")
}

add_source include /usr/include
add_source doc /usr/share/doc

stdlib=""
if command -v python3 >/dev/null 2>&1; then
  stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])' 2>/dev/null || true)
fi
if [[ -n $stdlib && -d $stdlib ]]; then
  add_source python-stdlib "$stdlib" site-packages dist-packages
  add_source python-site-packages "$stdlib/site-packages"
fi
for d in /usr/lib/python3*; do
  [[ -d $d && ! -L $d ]] || continue
  add_source "usr-lib-$(basename "$d")" "$d"
done
add_source node-usr-lib /usr/lib/node_modules
add_source node-usr-local-lib /usr/local/lib/node_modules
add_source node-usr-share /usr/share/nodejs

((${#sources[@]})) || { echo "make_corpus: no source directories found" >&2; exit 1; }

# ---- list the text files of every source, sorted, with sizes ----
# list file format: records "SIZE PATH\0" with PATH relative to the source root.
skip_names=(
  '*.gz' '*.tgz' '*.bz2' '*.xz' '*.lz' '*.lzma' '*.zst' '*.Z' '*.zip' '*.whl' '*.egg' '*.jar'
  '*.pyc' '*.pyo' '*.so' '*.so.*' '*.a' '*.o' '*.node' '*.wasm'
  '*.png' '*.jpg' '*.jpeg' '*.gif' '*.ico' '*.bmp' '*.webp' '*.pdf'
  '*.woff' '*.woff2' '*.ttf' '*.otf' '*.eot' '*.mo' '*.db' '*.sqlite'
)
name_expr=()
for n in "${skip_names[@]}"; do name_expr+=(! -name "$n"); done

declare -A src_root src_total
order=()
for s in "${sources[@]}"; do
  IFS='|' read -r name root prune <<<"$s"
  prune_expr=(-name .git -o -name __pycache__)
  if [[ -n $prune ]]; then
    IFS=: read -r -a pr <<<"$prune"
    for p in "${pr[@]}"; do prune_expr+=(-o -path "./$p"); done
  fi
  list="$tmp/$name.list"
  (
    cd "$root"
    find . \( "${prune_expr[@]}" \) -prune -o -type f -size +0 "${name_expr[@]}" -printf '%P\0' \
      | sort -z \
      | xargs -0 -r grep -IlZ -- '' 2>/dev/null \
      | xargs -0 -r stat --printf '%s %n\0' -- 2>/dev/null
  ) >"$list" || true
  total=$(tr '\0' '\n' <"$list" | awk '{ s += $1 } END { printf "%d", s }')
  src_root[$name]=$root
  src_total[$name]=$total
  order+=("$total $name")
done

# smallest source first (ties by name) so leftovers flow to the larger ones
mapfile -t order < <(printf '%s\n' "${order[@]}" | sort -k1,1n -k2,2)

# ---- choose and copy ----
remaining=$target
left=${#order[@]}
grand_files=0
grand_bytes=0
summary=""
for entry in "${order[@]}"; do
  name=${entry#* }
  quota=$(( (remaining + left - 1) / left ))
  left=$((left - 1))
  ((quota > 0)) || continue
  taken=0
  files=0
  while IFS= read -r -d '' rec; do
    ((taken < quota)) || break
    taken=$((taken + ${rec%% *}))
    files=$((files + 1))
  done <"$tmp/$name.list"
  head -z -n "$files" "$tmp/$name.list" | cut -z -d' ' -f2- >"$tmp/$name.take"
  if ((files)); then
    mkdir -p "$out/$name"
    tar -C "${src_root[$name]}" --null --no-recursion --hard-dereference -T "$tmp/$name.take" -cf - \
      | tar -C "$out/$name" -xf -
  fi
  remaining=$((remaining - taken))
  ((remaining > 0)) || remaining=0
  grand_files=$((grand_files + files))
  grand_bytes=$((grand_bytes + taken))
  summary+=$(printf '  %-24s %8d files %10.1f MB  (of %.1f MB text in %s)' \
    "$name" "$files" "$(awk -v b="$taken" 'BEGIN{print b/1e6}')" \
    "$(awk -v b="${src_total[$name]}" 'BEGIN{print b/1e6}')" "${src_root[$name]}")$'\n'
done

echo "make_corpus: $out" >&2
printf '%s' "$summary" >&2
info="files=$grand_files bytes=$grand_bytes"
echo "make_corpus: total $info" >&2
if ((grand_bytes < target)); then
  echo "make_corpus: warning: only $(awk -v b="$grand_bytes" 'BEGIN{printf "%.1f", b/1e6}') MB of text available, below the $mb MB target" >&2
fi
printf '%s\n%s\n' "$want" "$info" >"$stamp"
rm -f "$building"

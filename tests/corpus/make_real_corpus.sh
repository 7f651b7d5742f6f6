#!/usr/bin/env bash
# Builds the labelled corpus of legitimate real-world text from what
# scripts/fetch_real_text.sh fetched (Debian man pages, dictionaries, glibc
# locales, X11 Compose tables, the UCD; CLDR JSON, moment and date-fns
# locales): every file in it is written by people for people, in its own
# script, and is labelled "legitimate". `clean` must leave each byte-identical
# and `scan` must stay (nearly) silent on it.
#
# Usage: make_real_corpus.sh SRC DEST   (SRC: build/real-text)
# Writes DEST/<source>/... and DEST/MANIFEST.tsv (path, source, label).
# Idempotent: rebuilt only when SRC's stamp changes.
set -euo pipefail
src=${1:?usage: $0 SRC DEST}
dest=${2:?usage: $0 SRC DEST}
[[ -f $src/.stamp ]] || { echo "make_real_corpus: $src has no fetched data (run scripts/bootstrap.sh --test)" >&2; exit 77; }
key="$(cat "$src/.stamp") corpus-v1"
if [[ -f $dest/.stamp && $(cat "$dest/.stamp") == "$key" ]]; then exit 0; fi
rm -rf "$dest"
mkdir -p "$dest"
manifest="$dest/MANIFEST.tsv.tmp"
: >"$manifest"
# add SOURCE_LABEL FILE TARGET: copy (decompressing .gz) and record
add() {
  local source=$1 file=$2 target=$3
  mkdir -p "$(dirname "$dest/$target")"
  if [[ $file == *.gz ]]; then gzip -dc "$file" >"$dest/${target%.gz}"; target=${target%.gz}; else cp "$file" "$dest/$target"; fi
  printf '%s\t%s\tlegitimate\n' "$target" "$source" >>"$manifest"
}
deb=$src/deb/usr/share
while IFS= read -r -d '' f; do add "debian-manpages" "$f" "man/${f#$deb/man/}"; done \
  < <(find "$deb/man" -path "$deb/man/man*" -prune -o -type f -name '*.gz' -print0 | sort -z)
while IFS= read -r -d '' f; do add "debian-dict" "$f" "dict/$(basename "$f")"; done \
  < <(find "$deb/dict" -type f -print0 2>/dev/null | sort -z)
while IFS= read -r -d '' f; do add "debian-hunspell" "$f" "hunspell/$(basename "$f")"; done \
  < <(find "$deb/hunspell" "$deb/myspell" -type f \( -name '*.dic' -o -name '*.aff' \) -print0 2>/dev/null | sort -z)
while IFS= read -r -d '' f; do add "debian-locales" "$f" "locales/$(basename "$f")"; done \
  < <(find "$deb/i18n/locales" -type f -print0 | sort -z)
while IFS= read -r -d '' f; do add "debian-x11-compose" "$f" "x11-compose/$(basename "$(dirname "$f")")/Compose"; done \
  < <(find "$deb/X11/locale" -type f -name Compose -print0 | sort -z)
while IFS= read -r -d '' f; do add "debian-unicode-data" "$f" "unicode/${f#$deb/unicode/}"; done \
  < <(find "$deb/unicode" -type f -name '*.txt' -print0 | sort -z)
nm=$src/npm/node_modules
for pkg in cldr-dates-full cldr-localenames-full cldr-numbers-full; do
  while IFS= read -r -d '' f; do add "npm-$pkg" "$f" "$pkg/${f#$nm/$pkg/main/}"; done \
    < <(find "$nm/$pkg/main" -type f -name '*.json' -print0 | sort -z)
done
while IFS= read -r -d '' f; do add "npm-moment" "$f" "moment/$(basename "$f")"; done \
  < <(find "$nm/moment/locale" -maxdepth 1 -type f -name '*.js' -print0 | sort -z)
while IFS= read -r -d '' f; do add "npm-date-fns" "$f" "date-fns/${f#$nm/date-fns/locale/}"; done \
  < <(find "$nm/date-fns/locale" -mindepth 3 -path '*/_lib/*' -type f -name '*.js' -print0 | sort -z)
mv "$manifest" "$dest/MANIFEST.tsv"
printf '%s' "$key" >"$dest/.stamp"

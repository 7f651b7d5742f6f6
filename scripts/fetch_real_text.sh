#!/usr/bin/env bash
# Fetches real multilingual text that Debian and npm ship, pinned, into DEST
# (default build/real-text): the raw material of the "legitimate text" corpus
# (tests/corpus/make_real_corpus.sh) that `clean` must leave byte-identical
# and on which the look-alike rules must stay quiet.
#
# Debian packages are downloaded with `apt-get download` and unpacked with
# `dpkg-deb -x` into DEST/deb (nothing is installed on the system); npm
# packages are installed into DEST/npm. Called by scripts/bootstrap.sh --test.
# Idempotent: a stamp file records what was fetched.
set -euo pipefail

dest=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/real-text}

# package=version: man pages, dictionaries, locale definitions, X11 Compose
# tables and the Unicode Character Database, in many scripts.
debs=(
  manpages-ru=4.18.1-1 manpages-uk=4.18.1-1 manpages-de=4.18.1-1 manpages-fr=4.18.1-1
  manpages-pl=1:4.18.1-1 manpages-ja=0.5.0.0.20221215+dfsg-1 manpages-zh=1.6.4.0-1
  wamerican=2020.12.07-2 wfrench=1.2.7-2 wngerman=20161207-11
  hunspell-ru=1:7.5.0-1 hunspell-uk=1:7.5.0-1 hunspell-el=1:7.5.0-1 hunspell-he=1:7.5.0-1
  hunspell-ar=3.2-1.2 myspell-fa=0.20070816-3.2 hunspell-hi=1:7.5.0-1 hunspell-th=1:7.5.0-1
  hunspell-ko=0.7.92-1 hunspell-vi=1:7.5.0-1 hunspell-gu=1:7.5.0-1
  locales=2.36-9+deb12u14 libx11-data=2:1.8.4-2+deb12u2 unicode-data=15.0.0-1
)
# npm: CLDR date formats and locale names (every locale CLDR has), and the
# locale tables of the two most used JavaScript date libraries.
npms=(cldr-dates-full@48.2.0 cldr-localenames-full@48.2.0 moment@2.31.0 date-fns@4.4.0)

key="${debs[*]} ${npms[*]} v1"
if [[ -f $dest/.stamp && $(cat "$dest/.stamp") == "$key" ]]; then exit 0; fi
echo "fetch_real_text: fetching ${#debs[@]} Debian packages and ${#npms[@]} npm packages into $dest" >&2
rm -rf "$dest"
mkdir -p "$dest/debs" "$dest/deb" "$dest/npm"
(cd "$dest/debs" && apt-get download -qq "${debs[@]}") || {
  echo "fetch_real_text: apt-get download failed (a pinned version may have left the mirror: update the list in $0)" >&2
  exit 2
}
for f in "$dest"/debs/*.deb; do dpkg-deb -x "$f" "$dest/deb"; done
rm -rf "$dest/debs"
(cd "$dest/npm" && printf '{"name":"glassbox-real-text","version":"0.0.0","private":true}\n' >package.json &&
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error "${npms[@]}" >/dev/null) || {
  echo "fetch_real_text: npm install of ${npms[*]} failed" >&2
  exit 2
}
printf '%s' "$key" >"$dest/.stamp"

#!/usr/bin/env bash
# End-to-end: history scanning with `glassbox scan --git` — findings carry
# the commit, ranges, the incremental state file, and errors.
source "$(dirname "$0")/lib.sh"
cd "$WORK"
export HOME="$WORK" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com \
  GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
git config --global init.defaultBranch main
git config --global commit.gpgsign false

# A token of GitHub's shape, made here so no secret-shaped literal is committed.
key="ghp_$(head -c 96 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 36)"

mkdir repo plain && cd repo && git init -q
mkdir deploy && printf 'GITHUB_TOKEN=%s\n' "$key" > deploy/settings.env && printf 'A project.\n' > README.md
git add -A && git commit -qm 'Add deployment settings'
c1=$(git rev-parse HEAD)
git rm -q deploy/settings.env && git commit -qm 'Remove the settings again'
c2=$(git rev-parse HEAD)
printf 'print("hello")\n' > main.py && git add main.py
git commit -q -F <(u 'Add main \u202Egnp.exe\n')
c3=$(git rev-parse HEAD)

expect_exit 0 "help scan" -- "$GB" help scan
grep -q -- '--since-state' "$WORK/out" && ok || bad "help scan documents --git and --since-state"

# Everything reachable from HEAD: the deleted secret and the message.
expect_exit 1 "git history" -- "$GB" scan --git --format json
expect_true "every finding names its commit" -- jq -e '(.findings|length) >= 2
  and all(.findings[]; (.commit|test("^[0-9a-f]{40}$")))' "$WORK/out"
expect_true "deleted secret found in commit 1" -- jq -e --arg c "$c1" \
  '[.findings[] | select((.rule|startswith("secret/github")) and .commit==$c and .path=="deploy/settings.env")] | length == 1' "$WORK/out"
expect_true "message finding in commit 3" -- jq -e --arg c "$c3" \
  '[.findings[] | select(.path=="COMMIT_MSG" and .commit==$c and (.rule|startswith("unicode/")))] | length == 1' "$WORK/out"
grep -q "$key" "$WORK/out" && bad "secret shown in clear" || ok
expect_exit 1 "git history, text" -- "$GB" scan --git
grep -q "^${c1:0:12}:deploy/settings.env:1:" "$WORK/out" && ok || bad "text output names commit and path"
expect_exit 0 "sarif" -- "$GB" scan --git --format sarif --fail-on none
expect_true "sarif shape" -- jq -e '.runs[0].results|length >= 2' "$WORK/out"

# Ranges.
expect_exit 1 "range A..B" -- "$GB" scan --git "$c1..$c3" --format json
expect_true "range excludes commit 1" -- jq -e --arg c "$c3" \
  '(.findings|length) >= 1 and all(.findings[]; .commit==$c)' "$WORK/out"
expect_exit 1 "single revision" -- "$GB" scan --git="$c2" --format json
expect_true "single revision: its ancestors only" -- jq -e --arg c "$c1" \
  '(.findings|length) >= 1 and all(.findings[]; .commit==$c)' "$WORK/out"
expect_exit 0 "excluded path" -- "$GB" scan --git "$c2" --exclude 'deploy/**'

# A folder inside the repository, given before --git.
cd "$WORK"
expect_exit 1 "repository folder as PATH" -- "$GB" scan repo --git --format json
expect_true "PATH form finds the history" -- jq -e '(.findings|length) >= 2' "$WORK/out"
cd repo

# Incremental: the state after commit 2, then only commit 3 is reported.
state="$WORK/state"
expect_exit 1 "first incremental run" -- "$GB" scan --git "$c2" --since-state "$state" --format json
[[ $(grep -v '^#' "$state") == "$c2" ]] && ok || bad "state records commit 2: $(cat "$state")"
expect_exit 1 "second incremental run" -- "$GB" scan --git --since-state "$state" --format json
expect_true "only commit 3's findings" -- jq -e --arg c "$c3" \
  '(.findings|length) >= 1 and all(.findings[]; .commit==$c) and ([.findings[]|select(.rule|startswith("secret/"))]|length==0)' "$WORK/out"
[[ $(grep -v '^#' "$state") == "$c3" ]] && ok || bad "state records commit 3: $(cat "$state")"
expect_exit 0 "nothing new" -- "$GB" scan --git --since-state "$state" --format json
expect_true "no findings when nothing is new" -- jq -e '.findings|length==0' "$WORK/out"
ls "$WORK" | grep -q 'state.tmp' && bad "temporary state file left behind" || ok

printf 'not a commit id\n' > "$WORK/garbled"
expect_exit 2 "garbled state" -- "$GB" scan --git --since-state "$WORK/garbled"
grep -q "garbled" "$WORK/err" && ok || bad "garbled state file is named"
expect_exit 2 "state is a folder" -- "$GB" scan --git --since-state "$WORK/plain"
grep -q "plain" "$WORK/err" && ok || bad "unreadable state file is named"
expect_exit 2 "since-state without --git" -- "$GB" scan --since-state "$state"

# A shallow clone (as CI checks out): scanned, with a note on stderr.
cd "$WORK"
git clone -q --depth 1 "file://$WORK/repo" shallow
expect_exit 1 "shallow clone" -- "$GB" scan shallow --git --format json
expect_true "shallow: the one commit, all its blobs" -- jq -e --arg c "$c3" \
  '(.findings|length) >= 1 and all(.findings[]; .commit==$c)' "$WORK/out"
grep -q "shallow clone" "$WORK/err" && ok || bad "shallow clone is noted"
cd repo

# Errors: bad range, not a repository.
expect_exit 2 "bad range" -- "$GB" scan --git no-such-branch..HEAD
grep -q "no-such-branch" "$WORK/err" && ok || bad "bad range is named"
cd "$WORK/plain"
expect_exit 2 "not a repository" -- "$GB" scan --git
grep -q "not inside a git repository" "$WORK/err" && ok || bad "not a repository: message"
cd "$WORK"
expect_exit 2 "not a repository, named" -- "$GB" scan plain --git
grep -q "plain" "$WORK/err" && ok || bad "non-repository folder is named"
expect_exit 2 "git with staged" -- "$GB" scan --git --staged

finish

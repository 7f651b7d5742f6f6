#include <iostream>

#include "cli/commands.h"

namespace glassbox::cli {

const char* Version() { return GLASSBOX_VERSION; }

int Fail(const std::string& message) {
  std::cerr << "glassbox: " << message << "\n";
  return kExitError;
}

namespace {

constexpr const char* kOverview = R"(glassbox — make AI coding agents auditable

Usage: glassbox COMMAND [OPTIONS]

Commands:
  scan     find hidden and look-alike Unicode and secrets in files, trees, stdin and data sets
  clean    remove or normalise the hidden characters scan reports
  filter   pass clean JSONL rows through, set aside rows with hidden text or agent marks
  gate     gateway between agents and LLM APIs: redaction, policy, budgets, audit log
  log      read and verify the hash-chained audit log of gate
  probe    run an agent under an environment matrix and show what it sends differently
  audit    static audit of an agent package or executable: probes, decoded strings, endpoints
  help     show help for a command: glassbox help scan

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage or runtime error.

Examples:
  glassbox scan .                        scan this repository (hidden files included, .git skipped)
  glassbox scan --format sarif . > glassbox.sarif
  git diff | glassbox scan -             scan a patch from stdin
  glassbox clean --in-place prompt.md    strip hidden characters from a file
  glassbox filter --rejects bad.jsonl < train.jsonl > train.clean.jsonl
  glassbox gate --log audit.db           then ANTHROPIC_BASE_URL=http://127.0.0.1:8787 claude
  glassbox probe -- node agent.js        does the agent change what it sends with TZ, LANG, host?
  glassbox audit agent-1.2.3.tgz --diff agent-1.2.2.tgz

glassbox --version prints the version.
)";

constexpr const char* kScan = R"(glassbox scan — find hidden text and secrets

Usage: glassbox scan [OPTIONS] [PATH ...]      (no PATH: the current directory; - reads stdin)

What it finds (rule families, --rules to choose):
  unicode   invisible tag characters that spell hidden instructions, variation-selector
            smuggling, zero-width characters, bidi overrides (Trojan Source), look-alike
            letters in identifiers and hosts, look-alike punctuation in ASCII text, unusual
            spaces in code and commands, whitespace steganography, terminal escapes
  secret    API keys and tokens (Anthropic, OpenAI, Google, AWS, GitHub, GitLab, Slack,
            Stripe, Hugging Face, npm), private keys, JWTs, database URLs with passwords,
            high-entropy assignments. Secrets are always shown masked.
  agent-config  repository files that make an agent run commands or send its key elsewhere on
            open: Claude Code hooks and apiKeyHelper, *_BASE_URL and proxy overrides, MCP servers
            that start a shell or run @latest packages, VS Code folderOpen tasks, dev container
            initializeCommand, .envrc exports, instruction files (AGENTS.md, CLAUDE.md, rules)
            with hidden text or orders to fetch, upload or drop safety, links out of the repo
  provenance  marks coding agents leave: Co-Authored-By trailers naming an agent, "Generated
            with Claude Code"-style footers, aider commit messages, agent bot accounts
Legitimate uses stay quiet: emoji ZWJ sequences, flag tag sequences, Arabic and Indic
joiners, bidi controls around right-to-left text, typographic quotes and no-break spaces in prose.

Options:
  --format text|json|sarif   output format (default text; json and sarif for CI)
  --fail-on SEVERITY         exit 1 when a finding is at or above it: info, low, medium,
                             high (default), critical, or none
  --min-severity SEVERITY    drop findings below it (default low: info is not reported)
  --rules FAMILY,...         families to run: unicode,secret,agent-config,provenance (default: all)
  --disable RULE,...         turn off rules or families, e.g. unicode/invalid-encoding
  --exclude GLOB             skip paths matching GLOB (repeatable; ** crosses folders)
  --no-ignore                do not honour .gitignore
  --data                     treat inputs as JSON/JSONL data sets (automatic for .jsonl,
                             .ndjson): strings are decoded, findings name row and JSON path
  --staged                   scan the content staged for commit (for pre-commit hooks)
  --git [RANGE]              scan git history instead of the files: each commit's message,
                             author, and the blobs it adds or changes (each blob once), so
                             deleted secrets are found; findings name the commit. RANGE is
                             A..B (in B, not in A) or one revision and its ancestors (default
                             HEAD). A PATH, written before --git, is a folder in the repository
  --since-state FILE         with --git: skip commits FILE records as scanned (and their
                             ancestors), then write the new tips to FILE; a missing FILE scans
                             everything. FILE holds one commit id per line, # for comments
  --baseline FILE            hide findings recorded in FILE
  --write-baseline FILE      record the current findings in FILE, then exit 0
  --config FILE              settings file (default: .glassbox.toml if present)
  --no-config                ignore .glassbox.toml
  --secret-rules FILE        extra secret rules in the rules/secrets TOML format (repeatable)
  --jobs N                   worker threads (default: one per core)
  --max-size BYTES           skip and report files larger than this (default 2 GiB)
  --color auto|always|never  colour in text output (default auto)
  --list-rules               print the rules and exit

Suppression that survives edits:
  a comment on the line or the line above:   // glassbox:ignore unicode/bidi-control
  a baseline:        glassbox scan --write-baseline .glassbox-baseline.json .
                     glassbox scan --baseline .glassbox-baseline.json .
  .glassbox.toml:    [scan] exclude = ["testdata/**"]   disable = ["unicode/invalid-encoding"]
                     [[ignore]] paths = ["docs/**"]  rules = ["unicode/lookalike-punctuation"]

Examples:
  glassbox scan .
  glassbox scan --rules agent-config .     before you open a cloned repository with an agent
  glassbox scan --format json src/ | jq '.findings[] | select(.severity=="critical")'
  glassbox scan --format sarif --fail-on medium . > glassbox.sarif
  glassbox scan --data train.jsonl
  glassbox scan --staged          (in .git/hooks/pre-commit, or via .pre-commit-hooks.yaml)
  glassbox scan --git             every commit reachable from HEAD
  glassbox scan --git origin/main..HEAD --format sarif     (the commits of a pull request)
  glassbox scan --git --since-state .glassbox-history      (CI: only commits since the last run)
)";

constexpr const char* kClean = R"(glassbox clean — remove what scan reports as hidden

Usage: glassbox clean [OPTIONS] [FILE ...]      (no FILE or -: stdin to stdout)

Removes tag characters, variation-selector runs, zero-width and other invisible characters,
bidi controls, control characters and whitespace-steganography runs, also where a JSON file
writes them as \u escapes; replaces unusual spaces in code and commands with ASCII spaces.
Legitimate uses (emoji sequences, joiners in Arabic and Indic words, word separators in Thai
or Khmer, soft hyphens in words, directional marks in right-to-left formats, no-break spaces
in prose) are kept. Look-alike letters and punctuation are reported by scan but not replaced:
a letter of a real script is never changed unless --fold-confusables asks for it. Every other
byte is unchanged, including CRLF line ends and a leading byte order mark. Running it twice
changes nothing the second time, and the result scans clean. What changed is printed on stderr.

Options:
  --in-place        rewrite the files (atomically: a temporary file renamed over the original,
                    with the original's owner, group, mode and extended attributes). Refuses
                    symbolic links, files with several hard links, read-only files, FIFOs and
                    devices, and leaves a file untouched when it changed while being cleaned
  --follow-symlinks with --in-place: clean the file a symbolic link points to
  --check           change nothing; exit 1 when a file would change
  --fold-confusables also replace look-alike letters and punctuation that scan reports (a
                    Cyrillic 'а' in an ASCII identifier, a fullwidth ':' in a URL) by the
                    ASCII they mimic
  --kind KIND       treat the input as code, shell, config, prose or data (default: from the
                    file name; stdin is prose)

Examples:
  glassbox clean < prompt.txt > prompt.clean.txt
  glassbox clean --in-place AGENTS.md CLAUDE.md
  glassbox clean --check $(git ls-files '*.md')
)";

constexpr const char* kFilter = R"(glassbox filter — keep clean JSONL rows, set the others aside

Usage: glassbox filter (--rejects FILE | --drop) [OPTIONS] [INPUT]     (no INPUT or -: stdin)

For ML data pipelines. Reads JSONL and writes the rows to keep on stdout, byte for byte
unchanged (CRLF, blank lines and a last row without a line end stay as they are). A row is
rejected when a string in it, decoded from its JSON escapes (so "\udb40\udc49" counts), has a
finding at or above --min-severity in the chosen rule families, when it is not valid JSON, or
when it is longer than --max-row-bytes. Nothing malformed passes silently.

Each rejected row becomes one line in the --rejects file:
  {"row":12,"reasons":[{"rule":"unicode/tag-characters","severity":"critical",
    "json_path":"$.messages[1].content","codepoints":["U+E0049",…],"decoded":"Ignore…",
    "message":"…"}],"original":"<the row, as a JSON string>"}
row is the line number in the input (blank lines counted). original is the row without its
line end; invisible and bidi characters in it are written as \u escapes, so the file is safe
to read, and a JSON reader gets the exact row back (jq -r .original). Invalid UTF-8 becomes
U+FFFD and the record says "original_lossy":true. A row over the limit is not held in memory:
its record has "original":null and "original_bytes". Rules the filter adds itself:
  data/invalid-json    not one JSON value; the message is the parser's ("invalid JSON at byte 5…")
  data/row-too-long    longer than --max-row-bytes

Options:
  --rejects FILE           write reject records to FILE (created or truncated)
  --drop                   discard rejected rows instead (one of the two is required)
  --rules FAMILY,...       unicode, provenance, secret, or all (default: unicode,provenance)
                           unicode: hidden, invisible and look-alike characters, bidi controls
                           provenance: agent marks ("Co-Authored-By: Claude", "Generated with
                           Claude Code") that keep agent-written text out of training data
                           secret: API keys and tokens (the record holds the row, key included)
  --min-severity SEVERITY  info, low (default), medium, high or critical
  --max-row-bytes N        longest row kept (default 64MiB; suffixes KiB, MiB, GiB)
  --jobs N                 scanning threads (default: one per core); output order is kept
  -q, --quiet              no summary line on stderr

Exit codes: 0 every row kept, 1 some rows rejected, 2 usage or runtime error (stderr names
the input). A summary goes to stderr: rows in, kept, rejected, and MB/s.

Speed: reads in 4 MiB chunks and scans batches of rows in parallel; memory stays bounded
(about --max-row-bytes plus a few chunks per thread) whatever the input size.

Examples:
  glassbox filter --rejects rejects.jsonl < train.jsonl > train.clean.jsonl
  glassbox filter --drop -q train.jsonl | gzip > train.clean.jsonl.gz
  zcat shard-*.jsonl.gz | glassbox filter --rules all --rejects rejects.jsonl > clean.jsonl
  glassbox filter --rules unicode --min-severity high --drop data.jsonl > /dev/null \
    || echo "data.jsonl has rows with hidden text"
  jq -r '.reasons[].rule' rejects.jsonl | sort | uniq -c        (why rows were rejected)
  jq -r .original rejects.jsonl > rejected-rows.jsonl           (the rejected rows, exactly)
)";

constexpr const char* kLog = R"(glassbox log — read and verify the audit log that gate writes

Usage: glassbox log ACTION --log PATH [--format text|json|jsonl]

Actions:
  list           one line per record: id, time, user, agent, request, model, status, latency, tokens
  show ID        one record in full, bodies included (as logged: after policy, secrets masked)
  search TEXT    records whose user, agent, upstream, model, method, path, findings or bodies contain TEXT
  verify         recompute every record's hash and check the chain; prints "record N: reason" on a break
  export         every record in full (default format jsonl, one JSON object per line)

Options:
  --log PATH     the audit log (an SQLite file made by glassbox gate), or a fleet's
                 postgresql://USER@HOST/DB URL (every replica's chain; show takes REPLICA:ID;
                 add ?replica=NAME to check that replica's --checkpoints)
  --format F     text (default; jsonl for export), json (one array; verify: one object), jsonl
  --since T, --until T   list/search/export records with since <= time < until (RFC 3339 UTC)
  --user U, --model M    only this user's / this model's records
  --limit N              at most N records (the oldest that match)
  --checkpoints FILE --public-key PEM
                 verify also checks the gate's signed checkpoints (gate --checkpoint-key)

Every record holds prev_hash (the previous record's hash; 64 zeros for the first) and
record_hash, SHA-256 over a length-prefixed serialization of all its fields. verify finds
edited fields, deleted rows and reordered rows. Retention deletes the oldest records and keeps
the hash of the last one deleted as an anchor, so the rest still verifies. The chain alone
cannot show that the newest records were deleted, that the whole chain was recomputed after
an edit, or that the oldest were deleted with a forged anchor: signed checkpoints can (see
docs/gate.md). Readers stream: memory stays constant however large the log.

Exit codes: 0 ok (verify: chain intact), 1 verify found a break or show's record is corrupt
(its hash does not match, or its body is gone: run verify), 2 usage error, missing file, no
such record, or a file that is not a glassbox audit log.

Examples:
  glassbox log verify --log ~/.glassbox/audit.db
  glassbox log list --log audit.db
  glassbox log search claude-sonnet --log audit.db --format json | jq length
  glassbox log export --log audit.db > audit-2026-11.jsonl
  glassbox log list --log audit.db --user alice --since 2026-11-01T00:00:00Z --limit 20
  glassbox log verify --log audit.db --checkpoints audit.db.checkpoints --public-key gate-pub.pem
)";

}  // namespace

int RunHelp(const std::string& topic) {
  if (topic.empty()) {
    std::cout << kOverview;
  } else if (topic == "scan") {
    std::cout << kScan;
  } else if (topic == "clean") {
    std::cout << kClean;
  } else if (topic == "filter") {
    std::cout << kFilter;
  } else if (topic == "log") {
    std::cout << kLog;
  } else if (topic == "gate") {
    std::cout << GateHelpText();
  } else if (topic == "probe") {
    std::cout << ProbeHelpText();
  } else if (topic == "audit") {
    std::cout << AuditHelpText();
  } else {
    return Fail("no help for '" + topic +
                "'; commands: scan, clean, filter, log, gate, probe, audit");
  }
  return kExitClean;
}

}  // namespace glassbox::cli

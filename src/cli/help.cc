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
  help     show help for a command: glassbox help scan

Coming next: gate (gateway with audit log), probe (environment-dependence tests),
audit (static audit of agent packages).

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage or runtime error.

Examples:
  glassbox scan .                        scan this repository (hidden files included, .git skipped)
  glassbox scan --format sarif . > glassbox.sarif
  git diff | glassbox scan -             scan a patch from stdin
  glassbox clean --in-place prompt.md    strip hidden characters from a file

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
  provenance  marks coding agents leave: Co-Authored-By trailers naming an agent, "Generated
            with Claude Code"-style footers, aider commit messages, agent bot accounts
Legitimate uses stay quiet: emoji ZWJ sequences, flag tag sequences, Arabic and Indic
joiners, bidi controls around right-to-left text, typographic quotes and no-break spaces in prose.

Options:
  --format text|json|sarif   output format (default text; json and sarif for CI)
  --fail-on SEVERITY         exit 1 when a finding is at or above it: info, low, medium,
                             high (default), critical, or none
  --min-severity SEVERITY    drop findings below it (default low: info is not reported)
  --rules FAMILY,...         families to run: unicode,secret,provenance (default: all)
  --disable RULE,...         turn off rules or families, e.g. unicode/invalid-encoding
  --exclude GLOB             skip paths matching GLOB (repeatable; ** crosses folders)
  --no-ignore                do not honour .gitignore
  --data                     treat inputs as JSON/JSONL data sets (automatic for .jsonl,
                             .ndjson): strings are decoded, findings name row and JSON path
  --staged                   scan the content staged for commit (for pre-commit hooks)
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
  glassbox scan --format json src/ | jq '.findings[] | select(.severity=="critical")'
  glassbox scan --format sarif --fail-on medium . > glassbox.sarif
  glassbox scan --data train.jsonl
  glassbox scan --staged          (in .git/hooks/pre-commit, or via .pre-commit-hooks.yaml)
)";

constexpr const char* kClean = R"(glassbox clean — remove what scan reports as hidden

Usage: glassbox clean [OPTIONS] [FILE ...]      (no FILE or -: stdin to stdout)

Removes tag characters, variation-selector runs, zero-width and other invisible characters,
bidi controls, control characters and whitespace-steganography runs; replaces unusual spaces
and look-alike punctuation and letters with their ASCII counterparts. Legitimate uses (emoji
sequences, joiners in Arabic and Indic words, no-break spaces in prose) are kept. Every other
byte is unchanged, including CRLF line ends and a leading byte order mark. Running it twice
changes nothing the second time. What changed is printed on stderr.

Options:
  --in-place        rewrite the files (atomically: a temporary file renamed over the original)
  --check           change nothing; exit 1 when a file would change
  --kind KIND       treat the input as code, shell, config, prose or data (default: from the
                    file name; stdin is prose)

Examples:
  glassbox clean < prompt.txt > prompt.clean.txt
  glassbox clean --in-place AGENTS.md CLAUDE.md
  glassbox clean --check $(git ls-files '*.md')
)";

}  // namespace

int RunHelp(const std::string& topic) {
  if (topic.empty()) {
    std::cout << kOverview;
  } else if (topic == "scan") {
    std::cout << kScan;
  } else if (topic == "clean") {
    std::cout << kClean;
  } else {
    return Fail("no help for '" + topic + "'; commands: scan, clean");
  }
  return kExitClean;
}

}  // namespace glassbox::cli

#!/usr/bin/env bash
# Writes a repository whose agent settings are ordinary and narrow: glassbox
# scan must report nothing above low on it.
# Usage: examples/make-harmless-repo.sh OUT_DIR
set -euo pipefail
out=${1:?usage: $0 OUT_DIR}
rm -rf "$out"
mkdir -p "$out"/{src,.claude,.vscode,.cursor/rules,.devcontainer}
cd "$out"
git init -q .

cat > .claude/settings.json <<'JSON'
{
  "permissions": { "allow": ["Bash(npm test)", "Bash(git diff:*)", "Read"] },
  "env": { "DISABLE_TELEMETRY": "1" }
}
JSON
cat > .mcp.json <<'JSON'
{ "mcpServers": { "fs": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "."] } } }
JSON
cat > .vscode/settings.json <<'JSON'
{
  // Formatting only.
  "editor.formatOnSave": true,
  "editor.tabSize": 2,
}
JSON
printf '{ "tasks": [{ "label": "test", "command": "npm test" }] }\n' > .vscode/tasks.json
printf '{ "image": "node:20", "postCreateCommand": "npm ci" }\n' > .devcontainer/devcontainer.json
printf '# Agent notes\n\nRun `npm test` before committing. Keep functions small. Tell the user what changed.\n' > AGENTS.md
printf 'Prefer TypeScript strict mode. It\u2019s fine to use \u201Csmart quotes\u201D in docs.\n' > .cursor/rules/style.mdc
printf 'export function add(a: number, b: number) { return a + b; }\n' > src/math.ts
ln -s ../src/math.ts .cursor/math-link.ts

#!/usr/bin/env python3
"""Secret samples generated from secretlint's own rules (the regexes its recommended preset applies).

secretlint's npm packages ship its rules but not its test fixtures. bench/secretlint_regexes.mjs
runs each rule of the pinned preset once and records every regular expression the rule applies
(source and flags); this turns each of them into samples, with gitleaks_samples.py's generator:

  * the JavaScript pattern is converted to Python's dialect (named groups "(?<n>" become
    "(?P<n>", "\\p{L}" becomes "[^\\W\\d_]"); the "i" flag is kept, "g", "m", "u" mean nothing
    here;
  * up to three distinct matches are generated from the whole pattern (lookarounds are left to
    the check), fixed seed per pattern, each CHECKED against the Python pattern, lookarounds
    included, and written one per file;
  * which of them secretlint itself flags is decided by running secretlint on them
    (bench/detection_bench.sh): a pattern that is no detector (a line splitter, the
    comment-directive filter) yields samples secretlint does not flag, and they are left out of
    the suite, counted.

Usage: secretlint_samples.py REGEXES_JSON OUT_DIR
Writes OUT_DIR/tp/<rule>--<n>.txt, OUT_DIR/MANIFEST.tsv (file, rule, pattern number) and
OUT_DIR/NOT-GENERATED.tsv (rule, pattern, reason); prints a summary. Exit 2 on bad input.
"""
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gitleaks_samples import Generator, GoRegexError, sre_c, sre_parse  # noqa: E402

SEED = 15
ATTEMPTS = 1000


class JsGenerator(Generator):
    """Lookarounds generate nothing; the check after generation enforces them."""

    def _node(self, op, av):
        if op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            return ''
        return super()._node(op, av)


def js_to_python(source):
    out, i, n = [], 0, len(source)
    while i < n:
        c = source[i]
        if c == '\\':
            esc = source[i:i + 2]
            if source.startswith('\\p{L}', i):
                out.append('[^\\W\\d_]')
                i += 5
                continue
            if esc in ('\\p', '\\P', '\\k'):
                raise GoRegexError('unsupported escape %s' % source[i:i + 8])
            out.append(esc)
            i += 2
            continue
        if source.startswith('(?<', i) and not source.startswith(('(?<=', '(?<!'), i):
            out.append('(?P<')
            i += 3
            continue
        out.append(c)
        i += 1
    return ''.join(out)


def main(argv):
    if len(argv) != 3:
        print('usage: secretlint_samples.py REGEXES_JSON OUT_DIR', file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding='utf-8') as f:
            patterns = json.load(f)
        if not isinstance(patterns, list) or not patterns:
            raise ValueError('no patterns (a JSON list of {rule, source, flags})')
    except (OSError, ValueError) as e:
        print('secretlint_samples: %s: %s' % (argv[1], e), file=sys.stderr)
        return 2
    out = argv[2]
    os.makedirs(os.path.join(out, 'tp'), exist_ok=True)
    manifest, skipped = [], []
    number = {}
    for p in patterns:
        rule = p['rule'].rsplit('secretlint-rule-', 1)[-1]
        number[rule] = number.get(rule, 0) + 1
        flags = re.IGNORECASE if 'i' in p['flags'] else 0
        try:
            py = js_to_python(p['source'])
            regex = re.compile(py, flags | re.MULTILINE)
            tree = sre_parse.parse(py, flags)
        except (GoRegexError, re.error) as e:
            skipped.append((rule, number[rule], 'pattern not convertible: %s' % e))
            continue
        rnd = random.Random('%d:%s:%s' % (SEED, rule, p['source']))
        seen = []
        for _ in range(ATTEMPTS):
            if len(seen) == 3:
                break
            try:
                text = JsGenerator(rnd, bool(flags)).gen(tree)
            except GoRegexError as e:
                skipped.append((rule, number[rule], 'construct not generated: %s' % e))
                break
            if text and text not in seen and regex.search(text) and '\n' not in text.strip('\n'):
                seen.append(text)
        if not seen and not any(s[:2] == (rule, number[rule]) for s in skipped):
            skipped.append((rule, number[rule], 'no generated string matches the pattern'))
        for k, text in enumerate(seen):
            name = '%s--%d-%d.txt' % (rule, number[rule], k)
            with open(os.path.join(out, 'tp', name), 'w', encoding='utf-8', newline='') as f:
                f.write(text + '\n')
            manifest.append(('tp/' + name, rule, str(number[rule])))
    with open(os.path.join(out, 'MANIFEST.tsv'), 'w', encoding='utf-8') as f:
        f.writelines('\t'.join(row) + '\n' for row in manifest)
    with open(os.path.join(out, 'NOT-GENERATED.tsv'), 'w', encoding='utf-8') as f:
        f.writelines('%s\t%d\t%s\n' % row for row in skipped)
    print('secretlint patterns: %d from %d rules; %d samples generated' %
          (len(patterns), len(number), len(manifest)))
    for rule, n, reason in skipped:
        print('  not generated: %s pattern %d: %s' % (rule, n, reason))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

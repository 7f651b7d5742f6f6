#!/usr/bin/env python3
"""Tests of bench/secretlint_samples.py on small pattern lists written here (no package needed)."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import secretlint_samples as ss  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class JsToPython(unittest.TestCase):
    def test_named_groups_and_letter_property_are_rewritten_lookarounds_kept(self):
        p = ss.js_to_python(r'(?<!\p{L})(?<type>ghp|gho)_[A-Z]{4}(?![A-Z])')
        self.assertEqual(p, r'(?<![^\W\d_])(?P<type>ghp|gho)_[A-Z]{4}(?![A-Z])')
        self.assertTrue(re.search(p, ' ghp_ABCD '))
        self.assertFalse(re.search(p, 'xghp_ABCD'), 'a letter before the prefix')
        self.assertFalse(re.search(p, 'ghp_ABCDE'), 'a letter after the key')

    def test_escaped_slashes_and_unicode_escapes_pass(self):
        self.assertEqual(ss.js_to_python(r'https:\/\/x[\u2028]'), r'https:\/\/x[\u2028]')

    def test_other_property_escapes_are_refused(self):
        with self.assertRaises(ss.GoRegexError):
            ss.js_to_python(r'\p{Lu}x')


class Main(unittest.TestCase):
    def run_main(self, patterns):
        d = tempfile.mkdtemp()
        src = os.path.join(d, 'patterns.json')
        with open(src, 'w') as f:
            f.write(patterns if isinstance(patterns, str) else json.dumps(patterns))
        r = subprocess.run([sys.executable, '-B', os.path.join(HERE, 'secretlint_samples.py'), src,
                            os.path.join(d, 'out')], capture_output=True, text=True)
        return r, os.path.join(d, 'out')

    def test_samples_match_their_pattern_lookarounds_included(self):
        source = r'(?<!\p{L})(?<p>tok)_[a-z0-9]{8}(?![a-z0-9])'
        r, out = self.run_main([{'rule': '@secretlint/secretlint-rule-demo', 'source': source, 'flags': 'gu'}])
        self.assertEqual(r.returncode, 0, r.stderr)
        names = sorted(os.listdir(os.path.join(out, 'tp')))
        self.assertEqual(len(names), 3)
        py = re.compile(ss.js_to_python(source))
        for name in names:
            self.assertTrue(name.startswith('demo--1-'))
            with open(os.path.join(out, 'tp', name)) as f:
                self.assertTrue(py.search(f.read()), name)

    def test_ignore_case_flag_is_kept(self):
        r, out = self.run_main([{'rule': 'r-x', 'source': 'key-[a-f]{6}', 'flags': 'gi'}])
        self.assertEqual(r.returncode, 0, r.stderr)
        texts = ''
        for name in os.listdir(os.path.join(out, 'tp')):
            with open(os.path.join(out, 'tp', name)) as f:
                texts += f.read()
        self.assertEqual(len(re.findall(r'key-[a-fA-F]{6}', texts, re.I)), 3)
        self.assertTrue(re.search('[A-F]', texts), 'under "i" a class draws both cases: ' + texts)

    def test_a_pattern_that_cannot_be_generated_is_listed_not_skipped_silently(self):
        r, out = self.run_main([{'rule': 'secretlint-rule-a', 'source': r'\p{Lu}+', 'flags': 'gu'},
                                {'rule': 'secretlint-rule-b', 'source': 'x(?=y)z', 'flags': 'g'}])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(out, 'NOT-GENERATED.tsv')) as f:
            rows = [line.split('\t')[0] for line in f]
        self.assertEqual(rows, ['a', 'b'])
        self.assertIn('not generated: a pattern 1', r.stdout)

    def test_bad_input_exits_2_naming_it(self):
        r, _ = self.run_main('not json')
        self.assertEqual(r.returncode, 2)
        self.assertIn('patterns.json', r.stderr)
        r, _ = self.run_main([])
        self.assertEqual(r.returncode, 2)


if __name__ == '__main__':
    unittest.main()

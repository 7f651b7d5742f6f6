#!/usr/bin/env python3
"""Tests of bench/gitleaks_samples.py on small rule files written here (no package needed)."""
import os
import random
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gitleaks_samples as gs  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class GoToPython(unittest.TestCase):
    def test_mid_pattern_flag_scopes_to_the_rest_of_its_group_and_alternatives(self):
        p = gs.go_to_python(r'\b(p8e-(?i)[a-z0-9]{4})(?:x|$)')
        self.assertEqual(p, r'\b(p8e-(?i:[a-z0-9]{4}))(?:x|$)')
        self.assertTrue(re.fullmatch(p.replace(r'(?:x|$)', ''), 'p8e-AbC1'))
        self.assertFalse(re.fullmatch(p.replace(r'(?:x|$)', ''), 'P8E-abc1'))
        # "a(?i)b|c" in Go: the flag holds for the later alternative too
        self.assertEqual(gs.go_to_python('(?:a(?i)b|c)'), '(?:a(?i:b)|(?i:c))')
        self.assertTrue(re.fullmatch(gs.go_to_python('(?:a(?i)b|c)'), 'C'))
        self.assertFalse(re.fullmatch(gs.go_to_python('(?:a(?i)b|c)'), 'AB'))

    def test_leading_flag_escapes_and_classes_are_kept(self):
        self.assertEqual(gs.go_to_python(r'(?i)[()|]\(x\)\z'), r'(?i)[()|]\(x\)\Z')
        self.assertEqual(gs.go_to_python(r'[]a](?-i:B)'), r'[]a](?-i:B)')

    def test_unsupported_syntax_is_an_error_with_a_reason(self):
        for bad in (r'\pL+', r'[[:alpha:]]', r'(a', r'a)', r'x(?s)y'):
            with self.assertRaises(gs.GoRegexError, msg=bad):
                gs.go_to_python(bad)


class Generation(unittest.TestCase):
    def rule(self, **spec):
        spec.setdefault('id', 'demo-token')
        return gs.Rule(spec)

    def test_generated_text_matches_its_pattern(self):
        rnd = random.Random(1)
        for pattern in (r'AKIA[A-Z2-7]{16}', r'(?:ab|cd){2,3}x?', r'[^"\s]{8}', r'\d{4}-\w{3}'):
            tree = gs.sre_parse.parse(pattern)
            for _ in range(50):
                self.assertTrue(re.fullmatch(pattern, gs.Generator(rnd).gen(tree)), pattern)

    def test_case_insensitive_classes_draw_both_cases_as_gitleaks_generator_does(self):
        rnd = random.Random(2)
        tree = gs.sre_parse.parse(gs.go_to_python(r'x(?i)[a-z]{64}'))
        body = tree[1][1][3]  # the (?i:...) wrapper's contents
        text = gs.Generator(rnd).gen(tree)
        self.assertTrue(any(c.isupper() for c in text[1:]) and any(c.islower() for c in text[1:]), text)
        self.assertTrue(all(c.islower() for c in gs.Generator(rnd).gen(gs.sre_parse.parse('[a-z]{64}'))))
        self.assertIsNotNone(body)

    def test_samples_match_the_rule_and_meet_its_entropy(self):
        rule = self.rule(regex=r'(?i)[\w.-]{0,50}?(?:demo)(?:[ \t\w.-]{0,20})[\s\'"]{0,3}(?:=|:)[\x60\'"\s=]{0,5}([a-z0-9]{24})(?:[\x60\'"\s;]|$)',
                         keywords=['demo'], entropy=3.5)
        samples, negatives, reason = gs.generate_rule(rule, gs.Allowlist({}, global_list=True))
        self.assertIsNone(reason)
        self.assertEqual([s[0] for s in samples], ['assign', 'json', 'yaml', 'env'])
        for _, _, text, (_, _, secret) in samples:
            self.assertIn(secret, text)
            self.assertGreater(gs.shannon(secret), 3.5)
        self.assertEqual(len(negatives), 1)
        self.assertFalse(rule.fires(negatives[0][2], negatives[0][1], gs.Allowlist({}, global_list=True)))

    def test_allowlisted_and_low_entropy_matches_do_not_fire(self):
        none = gs.Allowlist({}, global_list=True)
        rule = self.rule(regex=r'\b(AKIA[A-Z]{16})\b', keywords=['akia'], entropy=3,
                         allowlists=[{'regexes': ['.+EXAMPLE$']}])
        self.assertFalse(rule.fires('k = AKIAABCDEFGHIJKEXAMPLE', 'a.py', none))
        self.assertFalse(rule.fires('k = AKIAAAAAAAAAAAAAAAAA', 'a.py', none))
        self.assertTrue(rule.fires('k = AKIAQWERTYUIOPASDFGH', 'a.py', none))
        stop = gs.Allowlist({'stopwords': ['qwerty']}, global_list=True)
        self.assertFalse(rule.fires('k = AKIAQWERTYUIOPASDFGH', 'a.py', stop))
        self.assertFalse(rule.fires('k = QWERTY', 'a.py', none), 'no keyword')

    def test_path_rules_get_a_file_name_that_fits(self):
        rule = self.rule(regex=r'(?i)password\s*=\s*"([a-z0-9]{8,20})"', keywords=['password'],
                         path=r'(?i)\.(?:tf|hcl)$')
        samples, _, reason = gs.generate_rule(rule, gs.Allowlist({}, global_list=True))
        self.assertIsNone(reason)
        self.assertTrue(all(name.endswith('.tf') for _, name, _, _ in samples))

    def test_a_secret_group_holding_its_quotes_is_not_quoted_twice(self):
        self.assertEqual(gs.render('{i}_api_token = "{s}"\n', 'tf', '"abc123"'), 'tf_api_token = "abc123"\n')
        self.assertEqual(gs.render('{I}_TOKEN={s}\n', 'tf', '"abc123"'), 'TF_TOKEN="abc123"\n')
        self.assertEqual(gs.render('{i}: "{s}"', 'x', 'abc'), 'x: "abc"')

    def test_rules_without_a_sample_are_named_with_the_reason(self):
        with tempfile.TemporaryDirectory() as d:
            toml = os.path.join(d, 'rules.toml')
            with open(toml, 'w') as f:
                f.write("[[rules]]\nid = 'p12'\ndescription = 'd'\npath = '''\\.p12$'''\n\n"
                        "[[rules]]\nid = 'digits'\ndescription = 'd'\nregex = '''\\b([0-9]{16})\\b'''\n"
                        "entropy = 3.5\nkeywords = []\n\n"
                        "[[rules]]\nid = 'ok-token'\ndescription = 'd'\nregex = '''\\b(okt_[a-z0-9]{20})\\b'''\n"
                        "entropy = 3\nkeywords = ['okt_']\n")
            out = os.path.join(d, 'out')
            run = subprocess.run([sys.executable, os.path.join(HERE, 'gitleaks_samples.py'), toml, out],
                                 capture_output=True, text=True, check=True)
            self.assertIn('not generated: p12: no regex', run.stdout)
            self.assertIn('not generated: digits: secret entropy at or below 3.50', run.stdout)
            with open(os.path.join(out, 'MANIFEST.tsv')) as f:
                rows = [line.rstrip('\n').split('\t') for line in f]
            self.assertEqual(sorted({r[1] for r in rows}), ['ok-token'])
            self.assertEqual(sum(r[2] == 'tp' for r in rows), 4)
            for path, _, _, _ in rows:
                self.assertTrue(os.path.isfile(os.path.join(out, path)))
            # same seed, same files
            again = os.path.join(d, 'again')
            subprocess.run([sys.executable, os.path.join(HERE, 'gitleaks_samples.py'), toml, again],
                           capture_output=True, check=True)
            for path, _, _, _ in rows:
                with open(os.path.join(out, path)) as a, open(os.path.join(again, path)) as b:
                    self.assertEqual(a.read(), b.read())

    def test_bad_input_exits_2_with_a_message(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, 'bad.toml')
            with open(bad, 'w') as f:
                f.write('[[rules]\n')
            for path in (bad, os.path.join(d, 'missing.toml')):
                run = subprocess.run([sys.executable, os.path.join(HERE, 'gitleaks_samples.py'), path, d],
                                     capture_output=True, text=True)
                self.assertEqual(run.returncode, 2)
                self.assertIn(path, run.stderr)


class Scan(unittest.TestCase):
    """--scan applies the rules to files as fires() does (keywords, entropy, allowlists)."""

    def test_lists_the_files_a_rule_fires_on_and_no_others(self):
        with tempfile.TemporaryDirectory() as d:
            toml = os.path.join(d, 'rules.toml')
            with open(toml, 'w') as f:
                f.write("[allowlist]\nstopwords = ['example']\n\n"
                        "[[rules]]\nid = 'ok-token'\ndescription = 'd'\nregex = '''\\b(okt_[a-z0-9]{20})\\b'''\n"
                        "entropy = 3\nkeywords = ['okt_']\n")
            files = {'hit.txt': 'TOKEN=okt_a8f3k2m9x7q1w5e4r6t0\n',
                     'low.txt': 'TOKEN=okt_aaaaaaaaaaaaaaaaaaaa\n',
                     'stop.txt': 'TOKEN=okt_example7q1w5e4r6t0ab\n',
                     'none.txt': 'nothing here\n'}
            tree = os.path.join(d, 'tree', 'sub')
            os.makedirs(tree)
            for name, text in files.items():
                with open(os.path.join(tree, name), 'w') as f:
                    f.write(text)
            run = subprocess.run([sys.executable, os.path.join(HERE, 'gitleaks_samples.py'), '--scan', toml,
                                  os.path.join(d, 'tree')], capture_output=True, text=True, check=True)
            self.assertEqual(run.stdout.splitlines(), [os.path.join(tree, 'hit.txt')])
            run = subprocess.run([sys.executable, os.path.join(HERE, 'gitleaks_samples.py'), '--scan', toml,
                                  os.path.join(d, 'missing')], capture_output=True, text=True)
            self.assertEqual(run.returncode, 2)
            self.assertIn('missing', run.stderr)


if __name__ == '__main__':
    unittest.main()

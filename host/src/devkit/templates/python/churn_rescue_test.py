import unittest

import rules


class Risk(unittest.TestCase):
    def test_rises_after_the_threshold(self):
        self.assertEqual(rules.risk(30, 90), 0.0)
        self.assertEqual(rules.risk(135, 90), 0.5)
        self.assertEqual(rules.risk(400, 90), 1.0)


if __name__ == "__main__":
    unittest.main()

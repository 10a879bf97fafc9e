import unittest

import rules


class Nps(unittest.TestCase):
    def test_groups_and_score(self):
        self.assertEqual(rules.group(10), "promoter")
        self.assertEqual(rules.group(7), "passive")
        self.assertEqual(rules.group(0), "detractor")
        self.assertEqual(rules.nps(["promoter", "promoter", "detractor", "passive"]), 25.0)


if __name__ == "__main__":
    unittest.main()

import unittest

import rules


class FollowUp(unittest.TestCase):
    def test_asks_days_later(self):
        self.assertEqual(rules.follow_up_at(1_000, 7), 1_000 + 7 * 86_400_000)
        self.assertEqual(rules.follow_up_at(1_000, -1), 1_000)


if __name__ == "__main__":
    unittest.main()

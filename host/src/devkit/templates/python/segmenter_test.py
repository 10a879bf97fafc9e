import unittest

import rules


class IsVip(unittest.TestCase):
    def test_from_the_threshold_up(self):
        self.assertTrue(rules.is_vip(30000, 30000))
        self.assertFalse(rules.is_vip(29999, 30000))


if __name__ == "__main__":
    unittest.main()

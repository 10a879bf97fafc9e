import unittest

import rules


class PointsFor(unittest.TestCase):
    def test_a_point_per_hundred_cents_rounded_down(self):
        self.assertEqual(rules.points_for(12900, 100), 129)
        self.assertEqual(rules.points_for(99, 100), 0)


if __name__ == "__main__":
    unittest.main()

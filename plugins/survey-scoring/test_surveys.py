"""Hand-computed cases for every survey kind: `python3 -m unittest` here."""

import unittest
from fractions import Fraction

from surveys import Invalid, aggregate, kano_category, round_half_away, score


def scored(kind, questions, answers_list):
    return [score(kind, questions, a) for a in answers_list]


class Rounding(unittest.TestCase):
    def test_half_away_from_zero_on_exact_values(self):
        self.assertEqual(round_half_away(Fraction(25, 4), 1), 6.3)  # 6.25
        self.assertEqual(round_half_away(Fraction(-25, 4), 1), -6.3)
        self.assertEqual(round_half_away(Fraction(100, 3), 1), 33.3)
        self.assertEqual(round_half_away(Fraction(200, 3), 1), 66.7)
        self.assertEqual(round_half_away(Fraction(1, 8), 2), 0.13)  # 0.125
        self.assertEqual(round_half_away(Fraction(2, 3), 3), 0.667)


class Nps(unittest.TestCase):
    def test_categories_and_score(self):
        # 10, 9 promoters; 8, 7 passives; 6, 0, 3 detractors: 100·(2−3)/7 = −14.2857…
        s = scored("nps", [], [{"score": v} for v in (10, 9, 8, 7, 6, 0, 3)])
        self.assertEqual([x["category"] for x in s][:3], ["promoter", "promoter", "passive"])
        r = aggregate("nps", [], s)
        self.assertEqual(r, {"responses": 7, "promoters": 2, "passives": 2,
                             "detractors": 3, "nps": -14.3})

    def test_tie_rounds_away_from_zero(self):
        # 16 responses, 1 promoter, 0 detractors: 6.25 → 6.3.
        s = scored("nps", [], [{"score": 9}] + [{"score": 8}] * 15)
        self.assertEqual(aggregate("nps", [], s)["nps"], 6.3)

    def test_no_responses(self):
        self.assertEqual(aggregate("nps", [], [])["nps"], None)

    def test_bad_answers(self):
        for bad in ({"score": 11}, {"score": -1}, {"score": "9"}, {"score": 9.5},
                    {"score": True}, {}):
            with self.assertRaises(Invalid):
                score("nps", [], bad)


class CsatCesSatisfaction(unittest.TestCase):
    def test_csat(self):
        # 4 and 5 are satisfied: 2 of 3 → 66.7.
        s = scored("csat", [], [{"score": 5}, {"score": 4}, {"score": 3}])
        self.assertEqual(aggregate("csat", [], s), {"responses": 3, "csat": 66.7})
        with self.assertRaises(Invalid):
            score("csat", [], {"score": 0})

    def test_ces_mean_two_decimals(self):
        s = scored("ces", [], [{"score": 1}, {"score": 2}, {"score": 2}])
        self.assertEqual(aggregate("ces", [], s), {"responses": 3, "mean": 1.67})
        with self.assertRaises(Invalid):
            score("ces", [], {"score": 8})

    def test_satisfaction7_index_and_levels(self):
        # Levels 7, 6, 2, 2: mean 4.25, index 100·3.25/6 = 54.1666… → 54.2.
        s = scored("satisfaction7", [], [{"level": v} for v in (7, 6, 2, 2)])
        r = aggregate("satisfaction7", [], s)
        self.assertEqual(r["index"], 54.2)
        self.assertEqual(r["levels"], {"1": 0, "2": 2, "3": 0, "4": 0, "5": 0, "6": 1, "7": 1})
        with self.assertRaises(Invalid):
            score("satisfaction7", [], {"level": 0})


class Gap(unittest.TestCase):
    def test_item_and_overall_means(self):
        q = ["delivery", "price"]
        s = scored("gap", q, [
            {"items": {"delivery": {"expectation": 6, "experience": 4},
                       "price": {"expectation": 3, "experience": 5}}},
            {"items": {"delivery": {"expectation": 7, "experience": 6}}},
        ])
        r = aggregate("gap", q, s)
        # delivery: (−2 + −1)/2 = −1.5; price: 2; overall (−2 −1 + 2)/3 = −0.333…
        self.assertEqual(r["items"]["delivery"]["mean_gap"], -1.5)
        self.assertEqual(r["items"]["price"]["mean_gap"], 2.0)
        self.assertEqual(r["overall_gap"], -0.33)
        self.assertEqual(r["responses"], 2)

    def test_unknown_item_and_range(self):
        with self.assertRaises(Invalid):
            score("gap", ["a"], {"items": {"b": {"expectation": 1, "experience": 1}}})
        with self.assertRaises(Invalid):
            score("gap", ["a"], {"items": {"a": {"expectation": 8, "experience": 1}}})


class Kano(unittest.TestCase):
    def test_evaluation_table(self):
        self.assertEqual(kano_category("like", "dislike"), "O")
        self.assertEqual(kano_category("like", "like"), "Q")
        self.assertEqual(kano_category("like", "neutral"), "A")
        self.assertEqual(kano_category("neutral", "dislike"), "M")
        self.assertEqual(kano_category("live_with", "must_be"), "I")
        self.assertEqual(kano_category("dislike", "like"), "R")
        self.assertEqual(kano_category("dislike", "dislike"), "Q")
        self.assertEqual(kano_category("must_be", "like"), "R")

    def test_counts_category_better_worse(self):
        q = ["wrap", "fast"]
        answers = [
            {"features": {"wrap": {"functional": "like", "dysfunctional": "neutral"},      # A
                          "fast": {"functional": "like", "dysfunctional": "dislike"}}},    # O
            {"features": {"wrap": {"functional": "like", "dysfunctional": "dislike"},      # O
                          "fast": {"functional": "neutral", "dysfunctional": "dislike"}}}, # M
            {"features": {"wrap": {"functional": "neutral", "dysfunctional": "neutral"}}}, # I
        ]
        r = aggregate("kano", q, scored("kano", q, answers))
        wrap = r["features"]["wrap"]
        self.assertEqual(wrap["counts"], {"A": 1, "O": 1, "M": 0, "I": 1, "R": 0, "Q": 0})
        # Tie between O, A, I: O wins (M > O > A > I > R > Q).
        self.assertEqual(wrap["category"], "O")
        self.assertEqual(wrap["better"], 0.667)   # (1+1)/3
        self.assertEqual(wrap["worse"], -0.333)   # −(1+0)/3
        fast = r["features"]["fast"]
        self.assertEqual(fast["category"], "M")   # M and O tie: M first
        self.assertEqual(fast["better"], 0.5)
        self.assertEqual(fast["worse"], -1.0)
        self.assertEqual(r["responses"], 3)

    def test_bad_answers(self):
        with self.assertRaises(Invalid):
            score("kano", ["a"], {"features": {"b": {"functional": "like", "dysfunctional": "like"}}})
        with self.assertRaises(Invalid):
            score("kano", ["a"], {"features": {"a": {"functional": "love", "dysfunctional": "like"}}})


if __name__ == "__main__":
    unittest.main()


class Acsi(unittest.TestCase):
    def test_unequal_weights_by_hand(self):
        # satisfaction 8, 9, 10 → 9; expectations 6, 7, 7 → 6.67 (20/3);
        # ideal 5, 5, 6 → 5.33 (16/3). Weights 3, 1, 2:
        # 100 × (3·8 + 1·17/3 + 2·13/3) / (9 × 6) = 100 × (24 + 43/3) / 54
        # = 100 × 115/162 = 70.987… → 71.0.
        answers = [{"satisfaction": 8, "expectations": 6, "ideal": 5},
                   {"satisfaction": 9, "expectations": 7, "ideal": 5},
                   {"satisfaction": 10, "expectations": 7, "ideal": 6}]
        s = scored("acsi", [], answers)
        r = aggregate("acsi", [], s, {"weights": {"satisfaction": 3, "expectations": 1, "ideal": 2}})
        self.assertEqual(r["items"], {"satisfaction": 9.0, "expectations": 6.67, "ideal": 5.33})
        self.assertEqual(r["acsi"], 71.0)
        self.assertEqual(r["responses"], 3)

    def test_equal_weights_and_own_items(self):
        # Items of the survey's own: 10 and 1 → (9 + 0) / 18 = 50.0.
        s = scored("acsi", ["taste", "price"], [{"taste": 10, "price": 1}])
        self.assertEqual(aggregate("acsi", ["taste", "price"], s)["acsi"], 50.0)

    def test_rounds_half_away_on_the_exact_value(self):
        # One item, mean 1.5 of two answers (1, 2): 100 × 0.5 / 9 = 5.555… → 5.6;
        # mean 1.45 needs 20 answers: 100 × 0.45 / 9 = 5.0 exactly.
        s = scored("acsi", ["q"], [{"q": 1}, {"q": 2}])
        self.assertEqual(aggregate("acsi", ["q"], s)["acsi"], 5.6)

    def test_no_responses_and_bad_answers(self):
        r = aggregate("acsi", [], [])
        self.assertEqual((r["acsi"], r["items"]["satisfaction"]), (None, None))
        with self.assertRaises(Invalid):
            score("acsi", [], {"satisfaction": 11, "expectations": 5, "ideal": 5})
        with self.assertRaises(Invalid):
            score("acsi", [], {"satisfaction": 5, "expectations": 5})

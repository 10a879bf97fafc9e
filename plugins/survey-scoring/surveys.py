"""The survey methods of `survey-scoring`, in plain Python (no WIT types),
so that they are tested with the standard library's unittest.

Rounding: a report's decimals are rounded half away from zero on the exact
rational value (so 6.25 → 6.3 and −6.25 → −6.3), never on a binary float.
"""

from fractions import Fraction
import math

KINDS = ("nps", "csat", "ces", "satisfaction7", "gap", "kano", "acsi")
# ACSI's items when a survey names none.
ACSI_ITEMS = ("satisfaction", "expectations", "ideal")
KANO_ANSWERS = ("like", "must_be", "neutral", "live_with", "dislike")
# Rows: functional answer; columns: dysfunctional answer (KANO_ANSWERS order).
KANO_TABLE = {
    "like": "QAAAO",
    "must_be": "RIIIM",
    "neutral": "RIIIM",
    "live_with": "RIIIM",
    "dislike": "RRRRQ",
}
# Ties between categories go to the first in this order.
KANO_TIE_ORDER = "MOAIRQ"


class Invalid(ValueError):
    """An answer that does not fit the survey."""


def round_half_away(value, places):
    """`value` (a Fraction or int) rounded to `places` decimals, as a float."""
    scale = 10 ** places
    scaled = Fraction(value) * scale
    magnitude = math.floor(abs(scaled) + Fraction(1, 2))
    return (magnitude if scaled >= 0 else -magnitude) / scale


def _int_in(answers, field, low, high):
    value = answers.get(field) if isinstance(answers, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"answers.{field} must be an integer from {low} to {high}")
    if not low <= value <= high:
        raise Invalid(f"answers.{field} must be from {low} to {high}, not {value}")
    return value


def _named(answers, questions, part, noun):
    """Each (name, answer) of the answers' `part`: a non-empty object whose
    names are the survey's questions."""
    named = answers.get(part)
    if not isinstance(named, dict) or not named:
        raise Invalid(f"answers.{part} must be a non-empty object of {part}")
    for name, answer in named.items():
        if name not in questions:
            raise Invalid(f"answers.{part}.{name} is not {noun} of this survey")
        yield name, answer


def kano_category(functional, dysfunctional):
    return KANO_TABLE[functional][KANO_ANSWERS.index(dysfunctional)]


def acsi_items(questions):
    """The items an ACSI survey asks: its questions, else the three of the
    American Customer Satisfaction Index."""
    return list(questions) or list(ACSI_ITEMS)


def score(kind, questions, answers):
    """Checks one response and returns what is stored with it."""
    if not isinstance(answers, dict):
        raise Invalid("answers must be an object")
    if kind == "nps":
        s = _int_in(answers, "score", 0, 10)
        category = "promoter" if s >= 9 else "passive" if s >= 7 else "detractor"
        return {"score": s, "category": category}
    if kind == "csat":
        s = _int_in(answers, "score", 1, 5)
        return {"score": s, "satisfied": s >= 4}
    if kind == "ces":
        return {"score": _int_in(answers, "score", 1, 7)}
    if kind == "satisfaction7":
        return {"level": _int_in(answers, "level", 1, 7)}
    if kind == "gap":
        out = {}
        for name, item in _named(answers, questions, "items", "an item"):
            e = _int_in(item, "expectation", 1, 7)
            x = _int_in(item, "experience", 1, 7)
            out[name] = {"expectation": e, "experience": x, "gap": x - e}
        return {"items": out}
    if kind == "kano":
        out = {}
        for name, pair in _named(answers, questions, "features", "a feature"):
            if not isinstance(pair, dict):
                raise Invalid(f"answers.features.{name} must be an object")
            for side in ("functional", "dysfunctional"):
                if pair.get(side) not in KANO_ANSWERS:
                    raise Invalid(
                        f"answers.features.{name}.{side} must be one of {', '.join(KANO_ANSWERS)}"
                    )
            out[name] = {
                "functional": pair["functional"],
                "dysfunctional": pair["dysfunctional"],
                "category": kano_category(pair["functional"], pair["dysfunctional"]),
            }
        return {"features": out}
    if kind == "acsi":
        return {"items": {item: _int_in(answers, item, 1, 10) for item in acsi_items(questions)}}
    raise Invalid(f"unknown survey kind {kind!r}; known: {', '.join(KINDS)}")


def _weight(value):
    """A weight as the exact decimal it was written as (3, 0.5)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise Invalid(f"weights must be positive numbers, not {value!r}")
    return Fraction(str(value))


def acsi(questions, scored, weights):
    """Each item's mean and the index 100 × Σ wᵢ(x̄ᵢ − 1) / (9 Σ wᵢ), rounded
    on the exact value; `weights` by item, each 1 when left out."""
    items = acsi_items(questions)
    n = len(scored)
    w = {item: _weight(weights.get(item, 1)) for item in items}
    means = {item: Fraction(sum(s["items"][item] for s in scored), n) if n else None
             for item in items}
    index = None
    if n:
        total = sum(w[i] * (means[i] - 1) for i in items)
        index = round_half_away(100 * total / (9 * sum(w.values())), 1)
    return {"responses": n,
            "items": {i: round_half_away(m, 2) if m is not None else None for i, m in means.items()},
            "acsi": index}


def aggregate(kind, questions, scored, settings=None):
    """The survey's report over every stored score."""
    n = len(scored)
    if kind == "nps":
        promoters = sum(1 for s in scored if s["score"] >= 9)
        detractors = sum(1 for s in scored if s["score"] <= 6)
        passives = n - promoters - detractors
        nps = round_half_away(Fraction(100 * (promoters - detractors), n), 1) if n else None
        return {"responses": n, "promoters": promoters, "passives": passives,
                "detractors": detractors, "nps": nps}
    if kind == "csat":
        satisfied = sum(1 for s in scored if s["score"] >= 4)
        csat = round_half_away(Fraction(100 * satisfied, n), 1) if n else None
        return {"responses": n, "csat": csat}
    if kind == "ces":
        mean = round_half_away(Fraction(sum(s["score"] for s in scored), n), 2) if n else None
        return {"responses": n, "mean": mean}
    if kind == "satisfaction7":
        levels = {str(level): 0 for level in range(1, 8)}
        for s in scored:
            levels[str(s["level"])] += 1
        total = sum(s["level"] for s in scored)
        index = round_half_away(Fraction(100 * (total - n), 6 * n), 1) if n else None
        return {"responses": n, "index": index, "levels": levels}
    if kind == "gap":
        sums = {q: [0, 0] for q in questions}
        all_gaps = [0, 0]
        for s in scored:
            for name, item in s["items"].items():
                acc = sums.setdefault(name, [0, 0])
                acc[0] += item["gap"]
                acc[1] += 1
                all_gaps[0] += item["gap"]
                all_gaps[1] += 1
        items = {
            name: {"mean_gap": round_half_away(Fraction(g, c), 2) if c else None, "answers": c}
            for name, (g, c) in sums.items()
        }
        overall = round_half_away(Fraction(*all_gaps), 2) if all_gaps[1] else None
        return {"responses": n, "items": items, "overall_gap": overall}
    if kind == "kano":
        counts = {q: dict.fromkeys("AOMIRQ", 0) for q in questions}
        for s in scored:
            for name, feature in s["features"].items():
                counts.setdefault(name, dict.fromkeys("AOMIRQ", 0))[feature["category"]] += 1
        features = {}
        for name, c in counts.items():
            answered = sum(c.values())
            top = max(c.values())
            category = next(k for k in KANO_TIE_ORDER if c[k] == top) if answered else None
            base = c["A"] + c["O"] + c["M"] + c["I"]
            better = round_half_away(Fraction(c["A"] + c["O"], base), 3) if base else None
            worse = round_half_away(Fraction(-(c["O"] + c["M"]), base), 3) if base else None
            features[name] = {"counts": c, "category": category, "better": better, "worse": worse}
        return {"responses": n, "features": features}
    if kind == "acsi":
        return acsi(questions, scored, (settings or {}).get("weights") or {})
    raise Invalid(f"unknown survey kind {kind!r}; known: {', '.join(KINDS)}")

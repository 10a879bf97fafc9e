"""The rules of `{{name}}`, free of the host's types."""


def group(score):
    """9-10 promoter, 7-8 passive, 0-6 detractor."""
    if score >= 9:
        return "promoter"
    if score >= 7:
        return "passive"
    return "detractor"


def nps(groups):
    """Promoters minus detractors, in percent of all answers."""
    if not groups:
        return 0.0
    return 100.0 * (groups.count("promoter") - groups.count("detractor")) / len(groups)

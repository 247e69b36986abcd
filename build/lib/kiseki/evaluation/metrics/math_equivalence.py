"""`mathematical_equivalence`: the MATH benchmark's answer normaliser (Hendrycks et al.), then
string equality, with equality as numbers on top ("3.0" = "3").

No symbolic algebra (sympy) is used: "x+1" and "1+x" are not equal here. Bare `$` delimiters
are dropped as well, since generated answers often keep them.
"""

from __future__ import annotations

import math
import re

_REMOVED = ("\n", "\\!", "\\left", "\\right", "^{\\circ}", "^\\circ", "\\$", "$", "\\%", "%")
_SQRT_BARE = re.compile(r"\\sqrt(\w)")
_FRAC_BARE = re.compile(r"\\frac(?!\{)(\w)(?:(?!\{)(\w)|(\{[^}]*\}))?")
_INT_RATIO = re.compile(r"(-?\d+)/(-?\d+)")


def _fix_fracs(text: str) -> str:
    def braces(match: re.Match[str]) -> str:
        numerator, digit, group = match.group(1), match.group(2), match.group(3)
        denominator = group if group else "{" + (digit or "") + "}"
        return "\\frac{" + numerator + "}" + denominator

    return _FRAC_BARE.sub(braces, text)


def _drop_units(text: str) -> str:
    return text.split("\\text{ ")[0] if "\\text{ " in text else text


def normalise_math(text: str) -> str:
    text = text.replace("\\\\", "\\").replace("tfrac", "frac").replace("dfrac", "frac")
    for removed in _REMOVED:
        text = text.replace(removed, "")
    text = _drop_units(text).replace(" .", " 0.").replace("{.", "{0.")
    if text.startswith("."):
        text = "0" + text
    sides = text.split("=")
    if len(sides) == 2 and len(sides[0].strip()) <= 2:
        text = sides[1]  # "x = 5" answers 5
    text = _fix_fracs(_SQRT_BARE.sub(r"\\sqrt{\1}", text)).replace(" ", "")
    if text == "0.5":
        text = "\\frac{1}{2}"
    ratio = _INT_RATIO.fullmatch(text)
    return f"\\frac{{{ratio.group(1)}}}{{{ratio.group(2)}}}" if ratio else text


def mathematical_equivalence(prediction: str, gold: str) -> float:
    left, right = normalise_math(prediction), normalise_math(gold)
    if left == right:
        return 1.0
    try:
        return float(math.isclose(float(left), float(right), rel_tol=1e-9))
    except ValueError:
        return 0.0

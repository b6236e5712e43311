"""Days of supply (处方管理办法 第十九条; 长期处方管理规范（试行）).

处方一般不得超过7日用量；急诊处方一般不得超过3日用量；慢性病、老年病或特殊情况可适当延长，
但医师应当注明理由. A long-term prescription (长期处方) holds at most 12 weeks.
"""

from __future__ import annotations

from events.schemas import Finding
from services.review.rules.base import Facts, finding, line

ART_19 = "处方管理办法 第十九条"
LONG_TERM = "长期处方管理规范（试行）：长期处方的处方量最长不超过12周"
USUAL_DAYS, EMERGENCY_DAYS, LONG_TERM_DAYS = 7, 3, 84
KIND = {True: ("急诊处方", "an emergency prescription"), False: ("处方", "a prescription")}


def _limit(f: Facts) -> int:
    return EMERGENCY_DAYS if f.issued.emergency else USUAL_DAYS


def _extended(f: Facts) -> bool:
    return f.issued.chronic or f.issued.long_term


def supply_days(f: Facts) -> list[Finding]:
    """More than 7 days (3 in an emergency) only for a chronic or long-term prescription."""
    if _extended(f):
        return []
    limit, out = _limit(f), []
    for i, item in enumerate(f.issued.items):
        if item.days > limit:
            zh, en = line(i, item)
            kind_zh, kind_en = KIND[f.issued.emergency]
            out.append(finding("supply.days", ART_19, "block",
                               f"{zh}用药{item.days}天，{kind_zh}一般不得超过{limit}日用量",
                               f"{en}: {item.days} days, {kind_en} holds at most {limit}", i))
    return out


def supply_reason(f: Facts) -> list[Finding]:
    """A chronic or long-term prescription beyond the usual days must state why (医师应当注明理由)."""
    if not _extended(f) or (f.issued.long_supply_reason or "").strip():
        return []
    limit = _limit(f)
    return [finding("supply.reason", ART_19, "block",
                    f"{line(i, item)[0]}用药{item.days}天，超过{limit}日用量但医师未注明理由",
                    f"{line(i, item)[1]}: {item.days} days beyond {limit} without a stated reason", i)
            for i, item in enumerate(f.issued.items) if item.days > limit]


def long_term_max(f: Facts) -> list[Finding]:
    """No prescription, long-term or not, holds more than 12 weeks."""
    return [finding("supply.long_term_max", LONG_TERM, "block",
                    f"{line(i, item)[0]}用药{item.days}天，超过12周（84天）",
                    f"{line(i, item)[1]}: {item.days} days, more than 12 weeks (84 days)", i)
            for i, item in enumerate(f.issued.items) if item.days > LONG_TERM_DAYS]

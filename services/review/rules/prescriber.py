"""The prescriber's rights (医疗机构处方审核规范 第十三条: legality of the prescriber)."""

from __future__ import annotations

from events.schemas import Finding
from services.review.rules.base import Facts, finding, known, line

VILLAGE = "乡村医生从业管理条例 第二十八条；医疗机构处方审核规范 第十三条"
VILLAGE_RULE = "prescriber.village_formulary"


def village_formulary(f: Facts) -> list[Finding]:
    """乡村医生应当在乡村医生基本用药目录规定的范围内用药: anything beyond it goes to an upper-level doctor.

    The pack that carries this rule lists its id as needing upper-level review (packs.py).
    """
    if f.clinic_kind != "clinic":
        return []
    out = []
    for i, item, drug in known(f):
        if drug.village_clinic:
            continue
        zh, en = line(i, item)
        out.append(finding(VILLAGE_RULE, VILLAGE, "pharmacist",
                           f"{zh}不在村卫生室用药目录内，需上级医师审核",
                           f"{en} is beyond the village-clinic formulary: an upper-level doctor must review", i))
    return out

"""Where a drug may circulate (药品管理法 第六十一条; 药品网络销售禁止清单（第一版）).

DESIGN.md: narcotics, class-I psychotropics and other drugs on the national online-sale
prohibition list do not circulate to retail pharmacies, nor to the patient's home.
"""

from __future__ import annotations

from events.schemas import Channel, Finding
from services.review.rules.base import Facts, finding, known, line

CLAUSE = "药品管理法 第六十一条；药品网络销售禁止清单（第一版）"
OUTSIDE_HOSPITAL = (Channel.RETAIL, Channel.ANY_DESIGNATED, Channel.HOME_DELIVERY)
CONTROLLED_ZH = {"narcotic": "麻醉药品", "psychotropic_1": "第一类精神药品", "psychotropic_2": "第二类精神药品",
                 "toxic": "医疗用毒性药品", "precursor": "药品类易制毒化学品"}


def prohibited_channel(f: Facts) -> list[Finding]:
    """Controlled or online-prohibited drugs are dispensed by the hospital pharmacy only."""
    channel = f.issued.channel
    if channel not in OUTSIDE_HOSPITAL:
        return []
    out = []
    for i, item, drug in known(f):
        if not (drug.controlled or drug.online_sale_prohibited):
            continue
        zh, en = line(i, item)
        kind_zh = CONTROLLED_ZH.get(drug.controlled or "", "网络销售禁止清单药品")
        kind_en = drug.controlled or "on the online-sale prohibition list"
        out.append(finding("channel.prohibited", CLAUSE, "block",
                           f"{zh}属{kind_zh}，不得经零售药店或配送到家流转，请选择医院药房",
                           f"{en} is {kind_en}: it may not go to a retail pharmacy or home delivery ({channel.value})",
                           i))
    return out

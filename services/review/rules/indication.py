"""Drug against diagnosis (医疗机构处方审核规范 第十五条（一）: 处方用药与诊断是否相符)."""

from __future__ import annotations

from events.schemas import Finding
from services.review.rules.base import Facts, finding, known, line

CLAUSE = "医疗机构处方审核规范 第十五条（一）"


def diagnosis_fit(f: Facts) -> list[Finding]:
    """Some diagnosis must fall under one of the drug's indications (ICD-10 prefixes: E11 covers E11.9).

    A diagnosis less specific than the indication (J44 against J44.1) does not fit: the
    pharmacist asks the doctor, rather than the rule guessing.
    """
    codes = [d.code for d in f.issued.diagnoses]
    out = []
    for i, item, drug in known(f):
        if any(code.startswith(prefix) for code in codes for prefix in drug.indications):
            continue
        zh, en = line(i, item)
        out.append(finding("diagnosis.mismatch", CLAUSE, "pharmacist",
                           f"{zh}的适应证（{'、'.join(drug.indications)}）与诊断（{'、'.join(codes)}）不符",
                           f"{en}: no diagnosis ({', '.join(codes)}) fits its indications "
                           f"({', '.join(drug.indications)})", i))
    return out

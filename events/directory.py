"""The demo medical community: who the actors are, in which role, in which organisation."""

from __future__ import annotations

from dataclasses import dataclass

from events.authority import Role


@dataclass(frozen=True)
class Actor:
    actor_id: str
    role: Role
    org_id: str | None
    name_zh: str


@dataclass(frozen=True)
class Org:
    org_id: str
    kind: str  # clinic, hospital_pharmacy, retail_pharmacy, hospital, service
    name_zh: str


DEMO_ORGS: tuple[Org, ...] = (
    Org("clinic-qiaotou", "clinic", "桥头村卫生室"),
    Org("clinic-shanxia", "clinic", "山下村卫生室"),
    Org("county-hospital", "hospital", "县人民医院"),
    Org("pharm-county", "hospital_pharmacy", "县人民医院门诊药房"),
    Org("pharm-renhe", "retail_pharmacy", "仁和大药房（城关店）"),
    Org("pharm-kangning", "retail_pharmacy", "康宁医保定点药房"),
    Org("pharm-baishou", "retail_pharmacy", "百寿堂药店"),
    Org("svc-review", "service", "审方服务"),
    Org("svc-pharmacy", "service", "药房服务"),
    Org("svc-delivery", "service", "配送服务"),
    Org("svc-audit", "service", "审计服务"),
)

DEMO_ACTORS: tuple[Actor, ...] = (
    Actor("dr-wang", Role.DOCTOR, "clinic-qiaotou", "王建国（乡村医生）"),
    Actor("dr-liu", Role.DOCTOR, "clinic-qiaotou", "刘秀英（乡村医生）"),
    Actor("dr-li", Role.DOCTOR, "clinic-shanxia", "李明（乡村医生）"),
    Actor("rph-zhao", Role.PHARMACIST, "county-hospital", "赵敏（审方药师）"),
    Actor("rph-sun", Role.PHARMACIST, "county-hospital", "孙丽（审方药师）"),
    Actor("up-chen", Role.UPPER_DOCTOR, "county-hospital", "陈志远（上级医师）"),
    Actor("ph-county", Role.PHARMACY, "pharm-county", "周华（医院药房药师）"),
    Actor("ph-renhe", Role.PHARMACY, "pharm-renhe", "吴芳（仁和药师）"),
    Actor("ph-kangning", Role.PHARMACY, "pharm-kangning", "郑强（康宁药师）"),
    Actor("ph-baishou", Role.PHARMACY, "pharm-baishou", "冯洁（百寿堂药师）"),
    Actor("courier-1", Role.COURIER, "svc-delivery", "骑手 马超"),
    Actor("courier-2", Role.COURIER, "svc-delivery", "骑手 何静"),
    Actor("svc-review", Role.SERVICE, "svc-review", "审方服务（自动）"),
    Actor("svc-pharmacy", Role.SERVICE, "svc-pharmacy", "药房服务（自动）"),
    Actor("svc-delivery", Role.SERVICE, "svc-delivery", "配送服务（自动）"),
    Actor("svc-audit", Role.SERVICE, "svc-audit", "审计服务（自动）"),
)


def org(org_id: str) -> Org | None:
    """Look up a demo organisation."""
    return next((o for o in DEMO_ORGS if o.org_id == org_id), None)

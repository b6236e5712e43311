"""Re-running history: every review on the log against the pack and formulary it recorded, and a
dry run of another pack over the same prescriptions (what a new pack version would change).

The facts are the recorded ones: the issued event, its time, the review event's time as "now",
and the prescribing organisation's kind from events.directory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select

from events.lifecycle import Prescription, fold
from events.schemas import ReviewFlagged
from events.verifier import read_verified
from services.kit import tables
from services.kit.db import Database
from services.review import rules
from services.review.domain import Verdict, clinic_kind, verdict
from services.review.formulary.versions import FormularyUnavailable

Formularies = Callable[[str | None], rules.Formulary]  # version (None: not recorded) -> formulary


def outcome(v: Verdict) -> str:
    """passed, flagged (a pharmacist decides) or upper (an upper-level doctor decides)."""
    return "upper" if v.needs_upper_review else "flagged" if v.flagged else "passed"


def recorded(state: Prescription) -> Verdict | None:
    """The verdict on the log, if the prescription was reviewed."""
    r = state.review
    if r is None:
        return None
    flagged = isinstance(r, ReviewFlagged)
    return Verdict(r.findings, flagged, flagged and r.needs_upper_review)


def run_again(state: Prescription, pack: rules.Pack, formulary: rules.Formulary) -> Verdict:
    """The verdict a pack gives on the facts the recorded review saw."""
    assert state.issued is not None and state.issued_at is not None
    reviewed_at = next(h.occurred_at for h in state.history if h.type.startswith("review."))
    facts = rules.Facts(state.issued, state.issued_at, reviewed_at, formulary, clinic_kind(state.issued.clinic_id))
    return verdict(pack, facts)


def _ids(v: Verdict) -> Counter[str]:
    return Counter(f.rule_id for f in v.findings)


def _verify(state: Prescription, was: Verdict, formularies: Formularies) -> dict[str, Any] | None:
    """None when the recorded pack and formulary give exactly the recorded verdict; else why not."""
    assert state.review is not None
    r, problem = state.review, None
    try:
        again = run_again(state, rules.pack(r.rule_pack_version), formularies(r.formulary_version))
        if again != was:
            problem = "different findings" if again.findings != was.findings else "different verdict"
    except (KeyError, FormularyUnavailable) as exc:
        return {"prescription_id": state.prescription_id, "rule_pack_version": r.rule_pack_version,
                "formulary_version": r.formulary_version, "problem": str(exc).strip("'\"")}
    if problem is None:
        return None
    return {"prescription_id": state.prescription_id, "rule_pack_version": r.rule_pack_version,
            "formulary_version": r.formulary_version, "problem": problem,
            "recorded": [f.rule_id for f in was.findings], "rerun": [f.rule_id for f in again.findings]}


def _change(state: Prescription, was: Verdict, now: Verdict) -> dict[str, Any] | None:
    if now.findings == was.findings and outcome(now) == outcome(was):
        return None
    assert state.review is not None
    return {"prescription_id": state.prescription_id, "recorded_pack": state.review.rule_pack_version,
            "from": outcome(was), "to": outcome(now), "verdict_changed": outcome(now) != outcome(was),
            "added": sorted((_ids(now) - _ids(was)).elements()),
            "removed": sorted((_ids(was) - _ids(now)).elements())}


def report(states: Iterable[Prescription], *, pack: str, formularies: Formularies,
           formulary: str | None = None) -> dict[str, Any]:
    """(a) recorded verdicts re-run with their own pack; (b) a dry run of `pack` (on each review's
    own formulary, or on `formulary` when given), listing what would change."""
    dry = rules.pack(pack)
    if formulary is not None:
        formularies(formulary)  # an unknown version is the caller's mistake, not one per prescription
    reviewed = mismatched = 0
    mismatches, changes, unavailable = [], [], []
    for state in states:
        was, review = recorded(state), state.review
        if was is None or review is None:
            continue
        reviewed += 1
        if (bad := _verify(state, was, formularies)) is not None:
            mismatched += 1
            mismatches.append(bad)
        try:
            now = run_again(state, dry, formularies(formulary or review.formulary_version))
        except FormularyUnavailable as exc:
            unavailable.append({"prescription_id": state.prescription_id, "problem": str(exc)})
            continue
        if (changed := _change(state, was, now)) is not None:
            changes.append(changed)
    return {"pack": pack, "formulary": formulary or "recorded", "reviewed": reviewed,
            "reproduced": reviewed - mismatched, "mismatches": mismatches,
            "changed": len(changes), "changes": changes, "dry_run_unavailable": unavailable}


async def load_states(db: Database) -> list[Prescription]:
    """Every prescription in a review store, folded from the raw signed events it holds (the log's
    copy in inbox, then its own events not yet seen back), oldest issue first."""
    async with db.read() as s:
        logged = (await s.execute(select(tables.inbox.c.event_id, tables.inbox.c.stream_id, tables.inbox.c.raw)
                                  .order_by(tables.inbox.c.position))).all()
        own = (await s.execute(select(tables.events.c.event_id, tables.events.c.stream_id, tables.events.c.raw)
                               .order_by(tables.events.c.stream_id, tables.events.c.stream_version))).all()
    on_log = {r.event_id for r in logged}
    streams: dict[str, list[bytes]] = {}
    for r in [*logged, *(r for r in own if r.event_id not in on_log)]:
        streams.setdefault(r.stream_id, []).append(r.raw)
    states = [fold(sid, [read_verified(raw) for raw in raws])[0] for sid, raws in streams.items()]
    return sorted(states, key=lambda st: (st.issued_at is None, st.issued_at or 0, st.prescription_id))

"""Local identities: private keys are 0600, public keys travel as root-signed key events."""

import json
import stat

from events.directory import DEMO_ACTORS
from events.identities import KEY_EVENTS_FILE, load_identities, load_root_public_key
from events.replay import LogMessage, verify_log
from events.verifier import Accepted
from infra.identities import main


def test_command_creates_keys_with_private_files_0600(tmp_path):
    out = tmp_path / "keys"
    assert main(["--out", str(out)]) == 0
    private = sorted((out / "private").iterdir())
    assert len(private) == len(DEMO_ACTORS) + 1  # and the root
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in private)
    assert stat.S_IMODE((out / "private").stat().st_mode) == 0o700
    assert main(["--out", str(out)]) == 1  # never overwrites keys by accident


def test_demo_community_has_every_role(tmp_path):
    main(["--out", str(tmp_path)])
    roles = {a["role"] for a in json.loads((tmp_path / "actors.json").read_text())}
    assert roles == {"doctor", "pharmacist", "upper_doctor", "pharmacy", "courier", "service"}


def test_a_regulator_learns_every_key_from_the_root_key_and_the_log(tmp_path):
    main(["--out", str(tmp_path)])
    ring = load_root_public_key(tmp_path)  # nothing but the root public key
    lines = (tmp_path / KEY_EVENTS_FILE).read_bytes().splitlines()
    results = list(verify_log((LogMessage(line) for line in lines), ring))
    assert all(isinstance(r, Accepted) for r in results)
    loaded = load_identities(tmp_path)
    for actor in DEMO_ACTORS:
        signer = loaded.signer(actor.actor_id)
        assert ring.was_valid(signer.key_id, actor.actor_id, actor.role, results[0].event.occurred_at)

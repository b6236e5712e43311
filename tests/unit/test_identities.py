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
    pems = [p for p in private if p.name.endswith("-k1.pem")]
    assert len(pems) == len(DEMO_ACTORS) and (out / "private" / "root-1.pem").exists()
    # every private file (keys, API tokens, pickup pepper, contact key) is 0600
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


def test_secrets_load_back_and_pickup_hash_and_contact_sealing_work(tmp_path):
    from events.privacy import open_contact, pickup_code_hash, seal_contact
    from events.secrets_store import load_secrets

    main(["--out", str(tmp_path)])
    secrets = load_secrets(tmp_path)
    assert set(secrets.tokens) == {a.actor_id for a in DEMO_ACTORS}
    assert pickup_code_hash(secrets.pickup_pepper, "k7p2-qx9m") == pickup_code_hash(secrets.pickup_pepper, "K7P2QX9M")
    sealed = seal_contact(secrets.contact_public, {"name": "张三", "phone": "13800000000"})
    assert "张三" not in sealed and open_contact(secrets.contact_key, sealed)["name"] == "张三"

"""`python -m infra.identities --out var/keys`: create the demo community's keys."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from events.identities import ACTORS_FILE, KEY_EVENTS_FILE, generate_identities


def main(argv: list[str] | None = None) -> int:
    """Create a root key and demo actor keys; refuse to overwrite existing keys."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("var/keys"))
    parser.add_argument("--force", action="store_true", help="replace existing keys")
    args = parser.parse_args(argv)
    if (args.out / ACTORS_FILE).exists() and not args.force:
        print(f"{args.out} already holds identities; use --force to replace them", file=sys.stderr)
        return 1
    identities = generate_identities(args.out)
    print(f"root key: {identities.root.key_id}; {len(identities.signers)} actors")
    for signer in identities.signers.values():
        print(f"  {signer.actor_id:<14} {signer.role:<13} {signer.org_id or '':<16} {signer.key_id}")
    print(f"public key events: {args.out / KEY_EVENTS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

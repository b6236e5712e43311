"""What every rxflow service shares: store, outbox, consumer pipeline, keys, auth, app builder."""

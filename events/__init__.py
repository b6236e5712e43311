"""The shared contract of rxflow: signed envelopes, event schemas, keys and verification."""

"""Running rxflow locally: brokers, databases, identities and the service runner."""

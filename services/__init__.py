"""rxflow services."""

"""`python -m services.pharmacy`: run the pharmacy's HTTP API and consumers."""

from services.kit.serve import serve
from services.pharmacy.app import build
from services.pharmacy.config import PharmacySettings

if __name__ == "__main__":
    serve(build(PharmacySettings()))

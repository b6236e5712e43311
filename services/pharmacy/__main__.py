"""`python -m services.pharmacy`: run the pharmacy's HTTP API, consumers and expiry sweep."""

import uvicorn

from services.pharmacy.app import build
from services.pharmacy.config import PharmacySettings

if __name__ == "__main__":
    settings = PharmacySettings()
    uvicorn.run(build(settings).http, host=settings.host, port=settings.port, log_level="info")

"""`python -m services.prescriber`: run the prescriber's HTTP API and consumers."""

import uvicorn

from services.prescriber.app import build
from services.prescriber.config import PrescriberSettings

if __name__ == "__main__":
    settings = PrescriberSettings()
    uvicorn.run(build(settings).http, host=settings.host, port=settings.port, log_level="info")

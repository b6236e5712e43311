"""`python -m services.delivery`: run the delivery service's HTTP API, page and consumers."""

import uvicorn

from services.delivery.app import build
from services.delivery.config import DeliverySettings

if __name__ == "__main__":
    settings = DeliverySettings()
    uvicorn.run(build(settings).http, host=settings.host, port=settings.port, log_level="info")

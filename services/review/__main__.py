"""`python -m services.review`: run the review service's HTTP API and consumers."""

import uvicorn

from services.review.app import build
from services.review.config import ReviewSettings

if __name__ == "__main__":
    settings = ReviewSettings()
    uvicorn.run(build(settings).http, host=settings.host, port=settings.port, log_level="info")

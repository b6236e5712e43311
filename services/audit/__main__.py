"""`python -m services.audit`: run the audit ledger, its checkpoints and its HTTP API."""

import uvicorn

from services.audit.app import build
from services.audit.config import AuditSettings

if __name__ == "__main__":
    settings = AuditSettings()
    uvicorn.run(build(settings).http, host=settings.host, port=settings.port, log_level="info")

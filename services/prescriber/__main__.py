"""`python -m services.prescriber`: run the prescriber's HTTP API and consumers."""

from services.kit.serve import serve
from services.prescriber.app import build
from services.prescriber.config import PrescriberSettings

if __name__ == "__main__":
    serve(build(PrescriberSettings()))

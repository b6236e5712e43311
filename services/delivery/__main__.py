"""`python -m services.delivery`: run the delivery's HTTP API and consumers."""

from services.delivery.app import build
from services.delivery.config import DeliverySettings
from services.kit.serve import serve

if __name__ == "__main__":
    serve(build(DeliverySettings()))

"""`python -m services.review`: run the review's HTTP API and consumers."""

from services.kit.serve import serve
from services.review.app import build
from services.review.config import ReviewSettings

if __name__ == "__main__":
    serve(build(ReviewSettings()))

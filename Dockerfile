# One image for every rxflow service; the command picks the service.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY events ./events
COPY services ./services
COPY infra ./infra
RUN pip install --no-cache-dir .
USER nobody
EXPOSE 8000
CMD ["python", "-m", "services.prescriber"]

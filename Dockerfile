# One image for every grantflow process in temporal-dev.yml: worker, Slack app, codec server, one-shot jobs.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GRANTFLOW_LOG_FORMAT=json \
    GRANTFLOW_STATE_DIR=/var/lib/grantflow

WORKDIR /app
COPY pyproject.toml README.md worker.py ./
COPY grantflow ./grantflow
COPY workflows ./workflows
COPY activities ./activities
COPY slack_app ./slack_app
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /var/lib/grantflow --create-home grantflow

USER grantflow
# 3000: Slack HTTP mode; 8081: codec server; 9464/9465: worker metrics (grantflow / Temporal SDK).
EXPOSE 3000 8081 9464 9465
ENTRYPOINT ["grantflow"]
CMD ["worker"]

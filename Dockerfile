# The copilot as a container image: the same package the Makefile installs.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY copilot ./copilot
COPY tools ./tools
COPY prompts ./prompts
COPY evals ./evals
RUN pip install --no-cache-dir '.[postgres]'
# All local state (SQLite by default) lives here; mount a volume to keep it.
ENV COPILOT_DATA_DIR=/data
VOLUME ["/data"]
ENTRYPOINT ["copilot"]
CMD ["--help"]

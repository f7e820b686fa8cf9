# A container image for `monitor run --role ...` (see docs/deployment.md).
FROM python:3.11-slim
WORKDIR /opt/monitor
COPY . .
# CPU build of torch; a GPU image would install the CUDA build instead.
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu "torch==2.13.0" \
 && pip install --no-cache-dir . \
 && useradd --system monitor
USER monitor
EXPOSE 8080
CMD ["monitor", "run"]

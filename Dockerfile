# A container image for `monitor run --role ...` (see docs/deployment.md).
FROM python:3.11-slim
WORKDIR /opt/monitor
COPY . .
# CPU build of torch; a GPU image would install the CUDA build instead.
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu "torch==2.13.0" \
 && pip install --no-cache-dir . \
 && python -c "from pathlib import Path; from monitor.classify.runtime import select_encoder; \
select_encoder(runtime='onnx', device='cpu', cache_dir=Path('/opt/monitor/cache'))" \
 && useradd --system monitor
# The encoder exported to ONNX at build time (read-only at run time; the user has no home).
ENV MONITOR_CLASSIFIER_CACHE_DIR=/opt/monitor/cache
USER monitor
EXPOSE 8080
CMD ["monitor", "run"]

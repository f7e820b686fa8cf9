# A container image for `monitor run --role ...` (see docs/deployment.md).
FROM python:3.11-slim
WORKDIR /opt/monitor
COPY . .
# The locked versions (requirements.lock, made by scripts/lock), torch the 2.13.0 CPU build from
# PyTorch's CPU index; then the project itself, resolving nothing more. A GPU image would
# install the CUDA build of torch instead.
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.lock \
 && pip install --no-cache-dir --no-deps . \
 && pip check \
 && python -c "from pathlib import Path; from monitor.classify.runtime import select_encoder; \
select_encoder(runtime='onnx', device='cpu', cache_dir=Path('/opt/monitor/cache'))" \
 && useradd --system monitor
# The encoder exported to ONNX at build time (read-only at run time; the user has no home).
ENV MONITOR_CLASSIFIER_CACHE_DIR=/opt/monitor/cache
USER monitor
EXPOSE 8080
CMD ["monitor", "run"]

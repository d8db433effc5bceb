# In your CI job, after your server is built: install the suite (nothing else), start your server,
# wait until it answers, run the suite. The exit status is the verdict's (0, 1 or 4).
set -eu
URL="${DPAAS_URL:-http://127.0.0.1:8000}"
python3 -m venv .dpaas-venv && . .dpaas-venv/bin/activate
python -m pip install --quiet "${DPAAS_SUITE:-git+https://github.com/our-org/dpaas-conformance}"
[ -f dpaas.toml ] || dpaas-conformance --example-config > dpaas.toml  # then: your principals
./start-my-server.sh &  # your implementation, listening at $URL
for _ in $(seq 60); do curl -s -o /dev/null "$URL/" && break; sleep 1; done
dpaas-conformance --base-url "$URL" --config dpaas.toml -n 2 \
  --junitxml reports/dpaas.xml --dpaas-report reports/dpaas.json \
  --html reports/dpaas.html --self-contained-html

#!/usr/bin/env bash
# Payouts per second of 1, 2 and 4 hongbao processes sharing one PostgreSQL
# ledger, against the sandbox with its limits off (a benchmark, not a test).
#
#   cargo build --release -p hongbao-cli --bin hongbao
#   cargo xtask pg -- bash benches/pg_workers.sh [PAYOUTS]
#
# For W processes: W-1 `hongbao worker`s are started, then
# `hongbao batch run` imports PAYOUTS red packets and pays alongside them.
# The rate is taken from the ledger's attempts (first to last send), so the
# import is not counted; the wall time (batch run start to all paid) is
# printed too.
set -euo pipefail

N=${1:-10000}
BIN=${HONGBAO_BIN_DIR:-${CARGO_TARGET_DIR:-target}/release}
PSQL=$(ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)
: "${HONGBAO_TEST_PG_URL:?run under cargo xtask pg -- …}"
[ -x "$BIN/hongbao" ] || { echo "no $BIN/hongbao: build it first (or set HONGBAO_BIN_DIR)" >&2; exit 1; }
DIR=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$DIR"' EXIT

python3 -c "import secrets; print(secrets.token_hex(16))" > "$DIR/api_key"
# One sandbox for every run: enough balance for all of them (at most 9.99
# yuan a payout, three runs).
"$BIN/hongbao" sandbox --listen 127.0.0.1:0 --unlimited --cert-dir "$DIR/certs" \
    --api-key-file "$DIR/api_key" --balance-yuan $((N * 10 * 3 + 1000)) \
    > "$DIR/start.json" 2> "$DIR/sandbox.log" &
for _ in $(seq 600); do grep -q "}" "$DIR/start.json" 2>/dev/null && break; sleep 0.1; done
python3 - "$DIR" <<'EOF'
import json, sys
d = sys.argv[1]
s = json.loads(open(f"{d}/start.json").readline())
open(f"{d}/hongbao.toml", "w").write(
    f'mch_id = "{s["mch_id"]}"\nappid = "{s["appid"]}"\nbase_url = "{s["url"]}"\n'
    f'ca_cert = "{s["ca_cert"]}"\nclient_cert = "{s["client_cert"]}"\n'
    f'client_key = "{s["client_key"]}"\napi_key_file = "{d}/api_key"\n'
    'rate_per_minute = 0\nsend_name = "Bench"\nact_name = "Bench"\n'
    'wishing = "Thanks"\nremark = "bench"\n')
EOF
python3 -c "
import sys
n = int(sys.argv[1])
with open(sys.argv[2], 'w') as f:
    f.write('openid,amount\n')
    for i in range(n):
        f.write(f'oBench{i:08d}abcdefghijklmno,{1 + i % 9}.{i % 100:02d}\n')
" "$N" "$DIR/pay.csv"

for W in 1 2 4; do
    schema="bench_w${W}_$$"
    "$PSQL" -q "$HONGBAO_TEST_PG_URL" -c "CREATE SCHEMA $schema"
    URL="$HONGBAO_TEST_PG_URL?options=-csearch_path%3D$schema"
    pids=()
    for _ in $(seq $((W - 1))); do
        "$BIN/hongbao" --config "$DIR/hongbao.toml" worker --journal "$URL" \
            --concurrency 16 --rate-per-minute 0 --idle-ms 20 2>> "$DIR/workers.log" &
        pids+=($!)
    done
    start=$(date +%s.%N)
    "$BIN/hongbao" --config "$DIR/hongbao.toml" batch run "$DIR/pay.csv" --kind red-packet --yes \
        --journal "$URL" --batch "bench$W" --concurrency 16 --no-progress \
        --rate-per-minute 0 > /dev/null 2>> "$DIR/batch.log" || true
    # All paid, or give up after 10 minutes (a refusal stops every worker:
    # see the logs).
    deadline=$(($(date +%s) + 600))
    while [ "$("$PSQL" -qtA "$URL" -c "SELECT count(*) FROM payouts WHERE state = 'paid'")" != "$N" ]; do
        if [ "$(date +%s)" -gt "$deadline" ]; then
            echo "processes=$W: not all paid after 10 minutes:" >&2
            "$PSQL" -qtA "$URL" -c "SELECT state, count(*) FROM payouts GROUP BY 1" >&2
            tail -n 3 "$DIR/batch.log" "$DIR/workers.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    end=$(date +%s.%N)
    for pid in "${pids[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done
    "$PSQL" -qtA "$URL" -c "SELECT count(*), count(DISTINCT owner),
            round(count(*) * 1000.0 / greatest(max(started_ms) - min(started_ms), 1))
        FROM attempts" | {
        IFS='|' read -r attempts owners rate
        echo "processes=$W payouts=$N attempts=$attempts owners=$owners" \
            "payouts/s=$rate wall=$(echo "$end - $start" | bc)s (import included)" \
            "load=$(cut -d' ' -f1-3 /proc/loadavg)"
    }
    # Who paid what, and from when (ms after the first send): `batch run`
    # pays only once its import is done, and a worker that starts after the
    # others have everything claimed pays nothing.
    "$PSQL" -qtA "$URL" -c "SELECT string_agg(n || ' from +' || first_ms || ' ms', ', ' ORDER BY first_ms)
        FROM (SELECT count(*) AS n, min(started_ms) - (SELECT min(started_ms) FROM attempts) AS first_ms
              FROM attempts GROUP BY owner) per_owner" | sed 's/^/  per process: /'
done

#!/usr/bin/env bash
# wrk against `pila serve --http` over a TAP, and against nginx on the kernel's side of the
# same namespace serving the same file, one after the other in one run.
#
# Usage (as root): scripts/bench-web.sh [SECONDS] [CONNECTIONS]
# Needs wrk and nginx (Debian: apt-get install wrk nginx-light). Builds pila with --release.
# The namespace, the TAP and every process started here are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
for tool in wrk nginx ip; do
    command -v "$tool" >/dev/null || { echo "bench-web: $tool is missing — apt-get install wrk nginx-light iproute2" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "bench-web: needs root for the namespace — run it with sudo" >&2; exit 2; }

cargo build --release -q -p pila-cli
pila=$PWD/target/release/pila
ns=pila-bench-web-$$
dir=$(mktemp -d)
# nginx's workers drop root: let them read the page.
chmod 755 "$dir"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

# The file both servers send: a 4 KiB page.
mkdir -p "$dir/site"
python3 -c "import sys; sys.stdout.write(('<p>pila bench page</p>\n' * 200)[:4096])" > "$dir/site/index.html"

ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" ip tuntap add dev pila0 mode tap
ip -n "$ns" addr add 192.0.2.1/24 dev pila0
ip -n "$ns" link set pila0 up

ip netns exec "$ns" "$pila" serve --tap pila0 --ip 192.0.2.2/24 --http 80 --root "$dir/site" \
    > "$dir/serve.log" 2>&1 &
pids+=($!)

cat > "$dir/nginx.conf" <<EOF
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 100000;
    client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
    server { listen 192.0.2.1:8080; root $dir/site; }
}
EOF
mkdir -p "$dir/tmp"
ip netns exec "$ns" nginx -c "$dir/nginx.conf" -g 'daemon off;' &
pids+=($!)

for url in http://192.0.2.2/index.html http://192.0.2.1:8080/index.html; do
    for _ in $(seq 100); do
        ip netns exec "$ns" curl -s -o /dev/null --max-time 1 "$url" && break
        sleep 0.1
    done
done

run() {
    ip netns exec "$ns" wrk -t2 -c"$conns" -d"${secs}s" --latency "$1"
}
echo "== pila serve --http (pila over a TAP, wrk in the kernel)"
pila_out=$(run http://192.0.2.2/index.html)
echo "$pila_out"
echo "== nginx (the kernel, wrk in the same namespace)"
nginx_out=$(run http://192.0.2.1:8080/index.html)
echo "$nginx_out"
for out in "$pila_out" "$nginx_out"; do
    if echo "$out" | grep -q -e 'Non-2xx' -e 'Socket errors'; then
        echo "bench-web: a run had failed requests or socket errors — its figure does not count" >&2
        exit 1
    fi
done
rate() { echo "$1" | awk '/Requests\/sec/ {print $2}'; }
p=$(rate "$pila_out")
n=$(rate "$nginx_out")
echo "== requests/s: pila $p, nginx $n, pila/nginx $(awk -v p="$p" -v n="$n" 'BEGIN {printf "%.2f", p / n}')"

#!/usr/bin/env bash
# Run nginx with deploy/nginx.conf in front of the dashboard's Streamlit server(s), in the foreground
# (stop it with Ctrl-C or SIGTERM; for a service, run this script from systemd or similar).
#
#   deploy/run_proxy.sh [--listen [ADDR:]PORT] [--upstream HOST:PORT]... [--dir DIR] [--check]
#
#   --listen    where visitors connect (default 8080; 80 needs root)
#   --upstream  a Streamlit server, repeatable (default 127.0.0.1:8501). With several, a client
#               address always reaches the same one (sticky sessions: `hash $remote_addr consistent`)
#   --dir       nginx's private directory: its copy of the config, pid, logs/ and tmp/ (request
#               bodies of uploads are buffered there). Default /tmp/nn-proxy
#   --check     only test the configuration (nginx -t) and exit
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
nginx="${NN_NGINX:-/usr/sbin/nginx}"   # (not $NGINX: nginx itself reads that variable)
listen="8080"
upstreams=()
dir="/tmp/nn-proxy"
check=""

while [ $# -gt 0 ]; do
  case "$1" in
    --listen)   listen="$2"; shift 2 ;;
    --upstream) upstreams+=("$2"); shift 2 ;;
    --dir)      dir="$2"; shift 2 ;;
    --check)    check=1; shift ;;
    -h|--help)  sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "run_proxy.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#upstreams[@]} -gt 0 ] || upstreams=("127.0.0.1:8501")

if [ ! -x "$nginx" ]; then
  echo "run_proxy.sh: $nginx is missing (Debian: apt-get install -y nginx)" >&2
  exit 1
fi
address='^[][A-Za-z0-9.:_-]+$'                     # they go into the config verbatim
for value in "$listen" "${upstreams[@]}"; do
  if ! [[ "$value" =~ $address ]]; then
    echo "run_proxy.sh: not an address: $value" >&2
    exit 2
  fi
done

mkdir -p "$dir/logs" "$dir/tmp"
# nginx started by root runs its workers as nobody, which must reach tmp/ (buffered uploads).
chmod 755 "$dir" "$dir/tmp"
cp "$here/nginx.conf" "$dir/nginx.conf"
echo "listen $listen;" > "$dir/nn_listen.conf"
{
  echo "upstream nn_dashboard {"
  echo "    hash \$remote_addr consistent;   # sticky: one client address, one Streamlit server"
  for u in "${upstreams[@]}"; do echo "    server $u;"; done
  echo "}"
} > "$dir/nn_upstream.conf"

args=(-p "$dir/" -c "$dir/nginx.conf" -e "$dir/logs/error.log")
"$nginx" "${args[@]}" -t -q
[ -z "$check" ] || { echo "configuration OK ($dir/nginx.conf)"; exit 0; }
echo "nginx on $listen -> ${upstreams[*]} (logs in $dir/logs)"
exec "$nginx" "${args[@]}" -g "daemon off;"

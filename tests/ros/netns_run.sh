#!/usr/bin/env bash
# Run a command (normally pytest on tests/ros) inside a network namespace that has only a loopback
# interface, so ROS 2 discovery and data never leave this machine, under a hard kill timeout.
#
#   tests/ros/netns_run.sh [--timeout SECONDS] COMMAND [ARGS...]
#   tests/ros/netns_run.sh .venv/bin/python -m pytest -q -m "ros and not slow" tests/ros
#
# Inside: ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, ROS_DOMAIN_ID (default: random 1..100; set it to pin one),
# VLA_ROS_NETNS=1 (the ROS tests skip themselves without it). When `unshare -n` is not permitted, the
# command still runs, with VLA_ROS_NETNS_UNAVAILABLE set to the reason, and the ROS tests skip with it.
set -euo pipefail
limit=900
if [[ "${1:-}" == "--timeout" ]]; then limit="$2"; shift 2; fi
[[ $# -ge 1 ]] || { echo "usage: $0 [--timeout SECONDS] COMMAND [ARGS...]" >&2; exit 2; }
domain="${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}"
if ! why="$(unshare -n -- true 2>&1)"; then
  echo "netns_run: 'unshare -n' not permitted (${why}); ROS tests will be skipped" >&2
  exec env VLA_ROS_NETNS_UNAVAILABLE="unshare -n not permitted: ${why}" timeout -s KILL "$limit" "$@"
fi
exec timeout -s KILL "$limit" unshare -n -- bash -c '
  set -e
  ip link set lo up multicast on
  ip route add 224.0.0.0/4 dev lo
  export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_DOMAIN_ID="$0" VLA_ROS_NETNS=1
  export ROS_LOG_DIR="${ROS_LOG_DIR:-$(mktemp -d -t vla_ros_log.XXXXXX)}"
  exec "$@"' "$domain" "$@"

#!/bin/bash
# Reference runner for manifest.txt (the real harness belongs in xtask):
# builds every case into target/test-programs/, runs it on the host and on
# our kernel, and compares stdout and exit status.
#
#   tests/programs/run-manifest.sh [--cores N --nodes M] [NAME-REGEX]
#
# Run from the repository root. Prints PASS/FAIL/SKIP per case; outputs are
# kept in target/test-programs/<name>.{host,guest}{,.status} and
# <name>.guest.log (kernel log). Exit status 1 when a case failed.
set -u
cores=1 nodes=1 filter=.
while [ $# -gt 0 ]; do
  case $1 in
    --cores) cores=$2; shift 2;;
    --nodes) nodes=$2; shift 2;;
    *) filter=$1; shift;;
  esac
done
dir=tests/programs
out=target/test-programs
mkdir -p "$out"
failed=0
trim() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' <<< "$1"; }
while IFS='|' read -r name build args status; do
  name=$(trim "$name")
  case $name in ''|\#*) continue;; esac
  echo "$name" | grep -Eq -- "$filter" || continue
  build=$(trim "$build") args=$(trim "$args") status=$(trim "$status")
  bin=$out/$name
  cmd=${build//\{out\}/$bin}; cmd=${cmd//\{dir\}/$dir}
  if ! command -v "${cmd%% *}" >/dev/null; then echo "$name: SKIP (no ${cmd%% *})"; continue; fi
  if ! sh -c "$cmd" 2> "$bin.build.log"; then echo "$name: FAIL (build, see $bin.build.log)"; failed=1; continue; fi
  abs=$(cd "$out" && pwd)/$name
  { (cd /tmp && eval "exec \"\$abs\" $args" < /dev/null > "$abs.host" 2> /dev/null); echo $? > "$bin.host.status"; } 2> /dev/null
  cargo xtask run --cores "$cores" --nodes "$nodes" --add "$bin" --cmd "/bin/$name $args" --quiet --timeout 120 \
    > "$bin.guest" 2> "$bin.guest.log" < /dev/null
  echo $? > "$bin.guest.status"
  hs=$(cat "$bin.host.status") gs=$(cat "$bin.guest.status")
  if grep -q "xtask: kernel build failed" "$bin.guest.log"; then
    echo "$name: ERROR (the kernel did not build, see $bin.guest.log)"; failed=1
  elif [ "$hs" != "$status" ]; then
    echo "$name: HOST STATUS $hs (expected $status): host environment unusual"; failed=1
  elif [ "$hs" = "$gs" ] && cmp -s "$bin.host" "$bin.guest"; then
    echo "$name: PASS (status $gs)"
  else
    echo "$name: FAIL (status host $hs guest $gs; diff $bin.host $bin.guest)"; failed=1
  fi
done < "$dir/manifest.txt"
exit $failed

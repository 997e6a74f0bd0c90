#!/usr/bin/env bash
# The wheel works on its own: build it from the repo's tracked files, install it (not editable)
# into a fresh venv, and run the demo, validate, views and a connect() query from an unrelated
# directory. Proves the SQL ships inside the package and nothing reads the checkout.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
# What a user's shell might carry must not steer the installed package to the checkout.
unset KALSHI_QUERIES_DIR KALSHI_LAKE KALSHI_API_URL PYTHONPATH

# The files a clone has (tracked or new, not ignored): a stale build/ or egg-info in the checkout
# cannot leak into the wheel.
mkdir "$tmp/src" "$tmp/dist" "$tmp/elsewhere"
git -C "$repo" ls-files -z --cached --others --exclude-standard | (cd "$repo" && tar --null --ignore-failed-read -T - -cf -) \
    | tar -xf - -C "$tmp/src"

python3 -m venv "$tmp/venv"
py="$tmp/venv/bin/python"
"$py" -m pip wheel --quiet --no-deps --wheel-dir "$tmp/dist" "$tmp/src"
wheel="$(ls "$tmp"/dist/kalshi_lake-*.whl)"

# The wheel holds every query file and no benchmark or test support.
"$py" - "$wheel" "$repo/queries" <<'EOF'
import pathlib, sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
want = {f"kalshi_lake/queries/{p.relative_to(sys.argv[2]).as_posix()}"
        for p in pathlib.Path(sys.argv[2]).rglob("*.sql")}
assert want and want <= names, sorted(want - names)[:5]
extra = sorted(n for n in names if n.startswith(("kalshi_lake/bench/", "kalshi_lake/testing/")))
assert not extra, extra
print(f"wheel-smoke: {pathlib.Path(sys.argv[1]).name} holds {len(want)} query files, no bench/testing")
EOF

"$py" -m pip install --quiet "$wheel"
kl="$tmp/venv/bin/kalshi-lake"
lake="$tmp/lake"
cd "$tmp/elsewhere"

"$kl" --lake "$lake" demo >"$tmp/demo.log" || { cat "$tmp/demo.log"; exit 1; }
tail -n 1 "$tmp/demo.log"
# The demo lake is clean: every check passes, so validate exits 0 (1 would mean an error-level
# failure, which the simulator's self-consistent data never has).
rc=0
"$kl" --lake "$lake" validate >"$tmp/validate.log" || rc=$?
[ "$rc" -eq 0 ] || { cat "$tmp/validate.log"; echo "validate exited $rc, expected 0" >&2; exit 1; }
"$kl" --lake "$lake" views
test -f "$lake/kalshi.duckdb"

"$py" - "$lake" <<'EOF'
import sys
import kalshi_lake
from kalshi_lake.sql import sqlfiles

site = kalshi_lake.__file__.rsplit("/kalshi_lake/", 1)[0]
assert "/venv/" in site, site  # the installed copy, not the checkout
assert str(sqlfiles.queries_dir()).startswith(site), sqlfiles.queries_dir()
(n,) = kalshi_lake.connect(sys.argv[1]).sql("SELECT count(*) FROM trades").fetchall()[0]
assert n > 0, n
try:
    import kalshi_lake.bench  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise AssertionError("kalshi_lake.bench is installed")
print(f"wheel-smoke: connect() sees {n} trades")
EOF

# Nothing was written where the commands ran.
[ -z "$(ls -A "$tmp/elsewhere")" ] || { ls -A "$tmp/elsewhere"; exit 1; }
echo "wheel-smoke: ok in $((SECONDS - start)) s"

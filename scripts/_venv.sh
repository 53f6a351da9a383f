# Sourced by the scripts in this directory: make sure .venv exists and holds the pinned
# packages of the requirements file given as $1. Installs only when that file (or the
# constraints) changed since the last install, so repeated runs start at once.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
requirements="$root/$1"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  echo "Creating $venv ..." >&2
  "$python" -m venv "$venv"
fi
stamp="$venv/.installed-$(basename "$requirements")"
inputs=("$requirements" "$root/requirements.txt" "$root/constraints.txt")
[ -f "${requirements%.txt}.lock" ] && inputs+=("${requirements%.txt}.lock")
digest="$(cat "${inputs[@]}" | "$venv/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  # What is installed and how many packages (the lock pins every one): a first install
  # downloads and builds for a few minutes with no other output.
  pinned="${requirements%.txt}.lock"
  [ -f "$pinned" ] || pinned="$requirements"
  echo "Installing $(basename "$requirements") into $venv: $(grep -cE '^[A-Za-z0-9]' "$pinned")" \
    "packages pinned in $(basename "$pinned"); a first install takes a few minutes ..." >&2
  started=$SECONDS
  # The lock beside the requirements file (requirements.lock, requirements-dev.lock; written by
  # scripts/lock) pins every package with its sha256: every download must match. Without one,
  # QTAP_REQUIRE_HASHES=1 (CI) refuses to install unchecked packages.
  lock="${requirements%.txt}.lock"
  if [ -f "$lock" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      --require-hashes --no-deps -r "$lock"
  elif [ -n "${QTAP_REQUIRE_HASHES:-}" ]; then
    echo "$(basename "$lock") is missing: run scripts/lock (QTAP_REQUIRE_HASHES is set)" >&2
    exit 1
  else
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  fi
  echo "Installed in $((SECONDS - started)) s: $("$venv/bin/python" -m pip list \
    --disable-pip-version-check --format=freeze 2>/dev/null | wc -l) packages in $venv" >&2
  echo "$digest" > "$stamp"
fi

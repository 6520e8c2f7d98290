#!/usr/bin/env bash
# Build Speak Up's front-end assets into core/static/ (the build output; not in git).
#
#   bash frontend/build.sh            # build if anything changed, else do nothing
#   bash frontend/build.sh --force    # always rebuild
#
# Needs only node and npm. Installs the pinned packages with `npm ci` when
# node_modules is missing or out of date with package-lock.json. Compiles the
# NHS.UK frontend Sass (without the Frutiger web font, which would be loaded
# from a third party) plus frontend/speakup.scss into one minified stylesheet,
# and copies the nhsuk-frontend ES module, our scripts and the images it needs.
#
# Fails (non-zero exit) if the compiled CSS contains an @font-face, an @import,
# or a url() that points at any other host: everything is served by the app.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force|-f) FORCE=1 ;;
    *) echo "usage: bash frontend/build.sh [--force]" >&2; exit 2 ;;
  esac
done

log() { printf 'frontend/build.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v node >/dev/null 2>&1 || die "node is not installed"
command -v npm >/dev/null 2>&1 || die "npm is not installed"
[ -f package-lock.json ] || die "package-lock.json is missing"

hash_files() { cat "$@" | sha256sum | cut -d' ' -f1; }

# --- 1. node_modules ---------------------------------------------------------
LOCK_STAMP="node_modules/.speakup-lock.sha256"
lock_hash="$(hash_files package.json package-lock.json)"
if [ "$FORCE" = 1 ] || [ ! -f "$LOCK_STAMP" ] || [ "$(cat "$LOCK_STAMP")" != "$lock_hash" ]; then
  log "installing npm packages (npm ci)"
  # --ignore-scripts: no package here needs an install script (sass is pure JS;
  # its optional file watcher is not used).
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  printf '%s\n' "$lock_hash" > "$LOCK_STAMP"
fi

NHSUK="node_modules/nhsuk-frontend/dist/nhsuk"
SASS="node_modules/.bin/sass"
[ -d "$NHSUK" ] || die "$NHSUK not found after npm ci"
[ -x "$SASS" ] || die "$SASS not found after npm ci"

# --- 2. up to date? ------------------------------------------------------------
OUT="core/static"
OUTPUTS=(
  "$OUT/css/speakup.css"
  "$OUT/js/nhsuk-frontend.min.js"
  "$OUT/js/speakup.js"
  "$OUT/js/js-enabled.js"
  "$OUT/images/favicon.ico"
  "$OUT/images/favicon.svg"
)
BUILD_STAMP="node_modules/.speakup-build.sha256"
build_hash="$(hash_files package-lock.json frontend/build.sh frontend/*.scss frontend/*.js)"
if [ "$FORCE" = 0 ] && [ -f "$BUILD_STAMP" ] && [ "$(cat "$BUILD_STAMP")" = "$build_hash" ]; then
  missing=0
  for f in "${OUTPUTS[@]}"; do [ -f "$f" ] || missing=1; done
  if [ "$missing" = 0 ]; then
    log "assets up to date"
    exit 0
  fi
fi
rm -f "$BUILD_STAMP"

# --- 3. build into a temporary directory, check, then swap in -------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/speakup-assets.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/css" "$TMP/js" "$TMP/images"

log "compiling frontend/speakup.scss"
"$SASS" --no-source-map --style=compressed --quiet-deps --load-path=node_modules \
  frontend/speakup.scss "$TMP/css/speakup.css"

css="$TMP/css/speakup.css"
[ -s "$css" ] || die "compiled CSS is empty"
if grep -qi '@font-face' "$css"; then
  die "compiled CSS contains @font-face (web fonts must not be loaded)"
fi
if grep -qi '@import' "$css"; then
  die "compiled CSS contains @import"
fi
# Every url(...) must be relative or same-origin: no scheme (other than data:)
# and no protocol-relative //host.
bad_urls="$(grep -oiE 'url\([[:space:]]*["'"'"']?[[:space:]]*([a-z][a-z0-9+.-]*:|//)[^)]*\)' "$css" \
  | grep -viE 'url\([[:space:]]*["'"'"']?[[:space:]]*data:' || true)"
if [ -n "$bad_urls" ]; then
  printf '%s\n' "$bad_urls" >&2
  die "compiled CSS references another host"
fi
if grep -qiE 'assets\.nhs\.uk|https?://' "$css"; then
  die "compiled CSS mentions an external URL"
fi
# Every relative url() must point at a file we ship.
while IFS= read -r ref; do
  name="${ref#../images/}"
  [ -f "$NHSUK/assets/images/$name" ] || die "CSS references missing image $ref"
done < <(grep -oE 'url\("?\.\./images/[^")]+' "$css" | sed -E 's/^url\("?//' | sort -u)

log "copying JavaScript and images"
# The ES module bundle; drop the source map comment (the map is not shipped).
sed -e 's|//# sourceMappingURL=[^[:space:]]*||' "$NHSUK/nhsuk-frontend.min.js" > "$TMP/js/nhsuk-frontend.min.js"
cp frontend/speakup.js frontend/js-enabled.js "$TMP/js/"
cp "$NHSUK"/assets/images/*.svg "$NHSUK"/assets/images/*.png "$NHSUK"/assets/images/favicon.ico "$TMP/images/"
rm -f "$TMP/images/nhsuk-opengraph-image.png"

mkdir -p "$OUT"
for d in css js images; do
  rm -rf "$OUT/$d"
  cp -R "$TMP/$d" "$OUT/$d"
done

for f in "${OUTPUTS[@]}"; do [ -f "$f" ] || die "expected output $f is missing"; done
printf '%s\n' "$build_hash" > "$BUILD_STAMP"
log "built $(du -sh "$OUT" | cut -f1) into $OUT/"

#!/bin/sh
# Copies Leaflet's dist files, and protomaps-leaflet's (the vector tile renderer the map loads for
# big layers), from npm (pinned by web/package-lock.json) into web/public/vendor/leaflet/ and
# web/public/vendor/protomaps-leaflet/, where the zonetrack binary embeds them at build time.
# The copy is committed so that a fresh clone's `cargo run` serves a working map with no npm step.
#
#   sh web/scripts/vendor-leaflet.sh           npm ci, then copy
#   sh web/scripts/vendor-leaflet.sh --check   npm ci, then fail if a committed copy differs
#
# After running it without --check, rebuild the binary so it embeds the new files.
set -eu

web=$(cd "$(dirname "$0")/.." && pwd)
src="$web/node_modules/leaflet/dist"
dest="$web/public/vendor/leaflet"
# What the page uses, plus the source map (so browser developer tools find it) and the licence.
files="leaflet.js leaflet.js.map leaflet.css images/layers.png images/layers-2x.png images/marker-icon.png images/marker-icon-2x.png images/marker-shadow.png"
# protomaps-leaflet's one-file build (its dependencies bundled in; it defines `protomapsL`).
pm_src="$web/node_modules/protomaps-leaflet"
pm_dest="$web/public/vendor/protomaps-leaflet"
pm_files="protomaps-leaflet.js protomaps-leaflet.js.map"

mode=copy
case "${1:-}" in
    --check) mode=check ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

command -v npm >/dev/null 2>&1 || { echo "vendor-leaflet: npm is not installed" >&2; exit 1; }
(cd "$web" && npm ci --no-audit --no-fund --loglevel=error)

version=$(node -p "require('$web/node_modules/leaflet/package.json').version")
case "$version" in
    1.9.*) ;;
    *) echo "vendor-leaflet: expected Leaflet 1.9.x from the lockfile, got $version" >&2; exit 1 ;;
esac

pm_version=$(node -p "require('$pm_src/package.json').version")
case "$pm_version" in
    5.*) ;;
    *) echo "vendor-leaflet: expected protomaps-leaflet 5.x from the lockfile, got $pm_version" >&2; exit 1 ;;
esac

if [ "$mode" = check ]; then
    bad=0
    for f in $files; do
        if ! cmp -s "$src/$f" "$dest/$f"; then
            echo "vendor-leaflet: web/public/vendor/leaflet/$f differs from node_modules/leaflet/dist/$f (Leaflet $version)" >&2
            bad=1
        fi
    done
    if ! cmp -s "$web/node_modules/leaflet/LICENSE" "$dest/LICENSE"; then
        echo "vendor-leaflet: web/public/vendor/leaflet/LICENSE differs from node_modules/leaflet/LICENSE" >&2
        bad=1
    fi
    # Nothing else may sit in the vendored directory: it is all embedded in the binary.
    extra=$(cd "$dest" && find . -type f | sed 's|^\./||' | sort)
    want=$(printf '%s\n' $files LICENSE | sort)
    if [ "$extra" != "$want" ]; then
        echo "vendor-leaflet: web/public/vendor/leaflet/ holds other files than expected:" >&2
        printf '%s\n' "$extra" >&2
        bad=1
    fi
    for f in $pm_files; do
        if ! cmp -s "$pm_src/dist/$f" "$pm_dest/$f"; then
            echo "vendor-leaflet: web/public/vendor/protomaps-leaflet/$f differs from node_modules/protomaps-leaflet/dist/$f ($pm_version)" >&2
            bad=1
        fi
    done
    if ! cmp -s "$pm_src/LICENSE" "$pm_dest/LICENSE"; then
        echo "vendor-leaflet: web/public/vendor/protomaps-leaflet/LICENSE differs from node_modules/protomaps-leaflet/LICENSE" >&2
        bad=1
    fi
    extra=$(cd "$pm_dest" && find . -type f | sed 's|^\./||' | sort)
    want=$(printf '%s\n' $pm_files LICENSE | sort)
    if [ "$extra" != "$want" ]; then
        echo "vendor-leaflet: web/public/vendor/protomaps-leaflet/ holds other files than expected:" >&2
        printf '%s\n' "$extra" >&2
        bad=1
    fi
    if [ $bad -ne 0 ]; then
        echo "vendor-leaflet: run 'sh web/scripts/vendor-leaflet.sh' and commit web/public/vendor/" >&2
        exit 1
    fi
    echo "vendor-leaflet: web/public/vendor matches Leaflet $version and protomaps-leaflet $pm_version from the lockfile"
    exit 0
fi

rm -rf "$dest"
mkdir -p "$dest/images"
for f in $files; do
    cp "$src/$f" "$dest/$f"
done
cp "$web/node_modules/leaflet/LICENSE" "$dest/LICENSE"
rm -rf "$pm_dest"
mkdir -p "$pm_dest"
for f in $pm_files; do
    cp "$pm_src/dist/$f" "$pm_dest/$f"
done
cp "$pm_src/LICENSE" "$pm_dest/LICENSE"
echo "vendor-leaflet: copied Leaflet $version and protomaps-leaflet $pm_version to web/public/vendor/; rebuild zonetrack to embed them"

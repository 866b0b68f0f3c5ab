#!/bin/sh
# Installs the tarballs in DIR (from scripts/pack.mjs) into an empty project
# offline and runs sandboxctl from there: doctor, the agent preset, and the
# library through require and import. Used by .github/workflows/release.yml,
# on the runner for glibc and inside an Alpine container for musl.
#   scripts/install-check.sh DIR PLATFORM
set -eu
dir=$(cd "$1" && pwd)
platform=$2
project=$(mktemp -d)
cd "$project"
echo '{ "name": "empty", "version": "1.0.0", "private": true }' > package.json
npm install --offline --no-audit --no-fund "$dir"/*.tgz
init=node_modules/@sandboxctl/native-$platform/sandboxctl-init
test "$(stat -c %a "$init")" = 755
oci=node_modules/@sandboxctl/native-$platform/sandboxctl-oci
test "$(stat -c %a "$oci")" = 755
npx --offline sandboxctl doctor
test "$(npx --offline sandboxctl oci path)" = "$PWD/$oci"
npx --offline sandboxctl oci --version
git init -q .
npx --offline sandboxctl run --preset agent -- /bin/sh -c 'echo ok > made && test ! -w .git/hooks'
test -f made
node -e "require('sandboxctl').run({ argv: ['/bin/true'], preset: 'ro-host' }).then((r) => process.exit(r.code))"
node --input-type=module -e "import { run } from 'sandboxctl'; process.exit((await run({ argv: ['/bin/true'], preset: 'ro-host' })).code)"
echo "install-check: $platform ok"

#!/usr/bin/env bash
# The one test command (`npm test`): the TypeScript linter, Rust unit tests,
# TypeScript unit tests, then the real-sandbox suites as the current user and, when run as root,
# once more as an unprivileged user created for the purpose (the product is
# for the unprivileged). Assumes `npm install` has built everything.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
jest=(node "$repo/node_modules/jest/bin/jest.js")

echo "== lint (eslint.config.mjs): any error fails the run"
npm run --silent lint

echo "== cargo test"
cargo test --workspace --exclude sandbox-napi --quiet
echo "== build the in-sandbox test helper and the bubblewrap drop-in (test/sandbox/bwrap)"
cargo build --release --quiet -p sandbox-testkit -p sandbox-bwrap
echo "== build the static launcher for the packed-install test"
node scripts/pack.mjs --build-only

echo "== jest: unit"
"${jest[@]}" --selectProjects unit --ci

echo "== jest: sandbox suites as $(id -un) (uid $(id -u))"
"${jest[@]}" --selectProjects sandbox --ci --runInBand

if [ "$(id -u)" -ne 0 ]; then
  echo "== not root: the second run (as a different, unprivileged user) needs root to create that user; ran once as uid $(id -u)"
  echo "== not root: the OCI runtime's suites (test/oci: podman, containerd, runtime-tools) need root; not run"
  exit 0
fi

user=${SANDBOXCTL_TEST_USER:-sbxtest}
if ! id "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/sh "$user"
fi
# Rootless podman (the image import suite's real archives) needs the user's
# subordinate ids; useradd adds them only where /etc/subuid already exists.
if command -v usermod >/dev/null && ! grep -q "^$user:" /etc/subuid 2>/dev/null; then
  usermod --add-subuids 200000-265535 --add-subgids 200000-265535 "$user"
fi
home=$(getent passwd "$user" | cut -d: -f6)
# Its runtime directory, as logind makes it at login: the escape suite plants a
# session bus there to show /run stays out of reach.
install -d -o "$user" -g "$(id -g "$user")" -m 700 "/run/user/$(id -u "$user")"
as_user() { runuser -u "$user" -- env -i PATH="$PATH" HOME="$home" CI="${CI:-}" "$@"; }

# The unprivileged user needs to read the tree; when it cannot (a clone under
# /root, say), copy what the suites use to a directory it owns.
dir=$repo
if ! as_user test -r "$repo/package.json" -a -x "$repo/packages/native/sandboxctl-init"; then
  dir=$(mktemp -d /tmp/sandboxctl-test.XXXXXX)
  trap 'rm -rf "$dir"' EXIT
  tar -C "$repo" --exclude=./target --exclude=./.git -cf - . | tar -C "$dir" -xf -
  mkdir -p "$dir/target/release"
  cp "$repo/target/release/sbx-try" "$dir/target/release/"
  triple=$(rustc -vV | sed -n 's/^host: //p')
  mkdir -p "$dir/target/$triple/release"
  for x in sandboxctl-init sandboxctl-oci sandboxctl-bwrap sandboxctl-front; do
    cp "$repo/target/$triple/release/$x" "$dir/target/$triple/release/"
  done
  chown -R "$user" "$dir"
fi
echo "== jest: sandbox suites as $user (uid $(id -u "$user")), from $dir"
as_user sh -c "cd '$dir' && node node_modules/jest/bin/jest.js --selectProjects sandbox --ci --runInBand"

# The OCI runtime (issue 12): a bundle by hand, podman, containerd and
# runtime-tools' validation, as root, once (test/oci; each engine script runs
# in a private mount namespace).
echo "== jest: OCI runtime (root)"
"${jest[@]}" --selectProjects oci --ci --runInBand

// Whether a Rust toolchain that can build sandboxctl runs here, for the
// scripts that build the native half. Without one they say in one line what
// to install, instead of Node's `spawnSync cargo ENOENT` (or EACCES for a
// toolchain on PATH that belongs to another user, such as root's
// ~/.cargo/bin), or cargo's own error about a lock file it is too old to read.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The workspace's `rust-version` (the oldest Rust it builds with). */
export function requiredRust() {
  const m = /^rust-version\s*=\s*"([\d.]+)"/m.exec(readFileSync(join(root, 'Cargo.toml'), 'utf8'));
  return m ? m[1] : undefined;
}

function older(version, than) {
  const a = version.split('.').map(Number);
  const b = than.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  }
  return false;
}

/** Why cargo or rustc cannot build sandboxctl (a phrase naming the tool), or undefined when both can. */
export function missingTool(env = process.env) {
  const need = requiredRust();
  for (const tool of ['cargo', 'rustc']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env });
    if (r.error) return r.error.code === 'ENOENT' ? `${tool} is not on PATH` : `${tool} cannot run (${r.error.code ?? r.error.message})`;
    if (r.status !== 0) return `\`${tool} --version\` exited with ${r.status ?? r.signal}`;
    const version = /\b(\d+\.\d+(?:\.\d+)?)/.exec(r.stdout)?.[1];
    if (need && version && older(version, need)) return `${tool} is ${version}, older than the ${need} sandboxctl needs`;
  }
  return undefined;
}

/** What to install, in words. */
export const INSTALL_RUST = `install Rust ${requiredRust() ?? ''} or newer with rustup (https://rustup.rs), or from your distribution when it packages one that new (\`apt install cargo\`)`.replace('  ', ' ');

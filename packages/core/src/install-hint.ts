/**
 * What to tell someone whose install lacks the native half: prebuilt, it
 * comes in an optional platform package that npm skips with
 * `--omit=optional` (or when the host is not one we build for); from a
 * checkout, `npm run build` makes it.
 */

import { platformPackages } from '@sandboxctl/native/init-path';

export function missingNativeHint(): string {
  const pkg = platformPackages()[0];
  const prebuilt = pkg
    ? `reinstall sandboxctl without omitting optional dependencies so npm installs ${pkg}`
    : `no prebuilt package exists for ${process.platform}-${process.arch}`;
  return `${prebuilt}; or build from a checkout with \`npm run build\` (needs Rust 1.88 or newer, from rustup.rs)`;
}

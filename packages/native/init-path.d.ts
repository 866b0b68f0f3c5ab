/**
 * Path of the `sandboxctl-init` launcher: `$SANDBOXCTL_INIT` when set, else
 * the executable beside this package's files (a source build), else the one
 * in the installed platform package (`@sandboxctl/native-linux-<arch>-<libc>`).
 * When none exists, the source-build path (not checked to exist).
 */
export declare function initPath(): string;

/** A place the launcher is looked for, and why. */
export interface InitCandidate {
  path: string;
  /** `SANDBOXCTL_INIT`, `source build`, or the platform package's name. */
  from: string;
}

/** Every place looked at, in order (platform packages only when installed). */
export declare function initCandidates(): InitCandidate[];

/** The platform packages that may hold the launcher on this host, preferred first. */
export declare function platformPackages(): string[];

/**
 * Path of the `sandboxctl-oci` OCI runtime, looked for as {@link initPath}
 * looks for the launcher: `$SANDBOXCTL_OCI`, beside this package's files,
 * then the installed platform package; the source-build path when none exists.
 */
export declare function ociPath(): string;

/** Every place the OCI runtime is looked for, in order (`from` is `SANDBOXCTL_OCI`, `source build` or a package). */
export declare function ociCandidates(): InitCandidate[];

/**
 * Path of the `sandboxctl-bwrap` bubblewrap drop-in, looked for as
 * {@link initPath} looks for the launcher: `$SANDBOXCTL_BWRAP`, beside this
 * package's files, then the installed platform package.
 */
export declare function bwrapPath(): string;

/** Every place the bubblewrap drop-in is looked for, in order. */
export declare function bwrapCandidates(): InitCandidate[];

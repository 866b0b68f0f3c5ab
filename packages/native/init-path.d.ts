/**
 * Path of the `sandboxctl-init` launcher: `$SANDBOXCTL_INIT` when set, else the
 * executable beside this package's files. The file is not checked to exist.
 */
export declare function initPath(): string;

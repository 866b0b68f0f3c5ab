/**
 * GENERATED FILE, DO NOT EDIT.
 * Source: schema/error-codes.json (from the `Code` enum in crates/sandbox-core/src/error.rs).
 * Regenerate with `npm run gen`; a unit test fails when this file drifts.
 */

/** The stable error codes, as `SandboxError.code` carries them. */
export const ERROR_CODES = [
  /** The plan does not decode or fails validation (no `argv`; a caller fd the plan names, in `fds`, `statusFd` or a `sourceFd`, is not open; a preset refuses the directory); `opIndex` and `path` name the field. */
  'E_PLAN_INVALID',
  /** A bind/file source does not exist (non-`optional` ops). */
  'E_SOURCE_MISSING',
  /** The kernel refused a user namespace; the hint names the sysctl. */
  'E_USERNS_UNAVAILABLE',
  /** A mount, remount or pivot failed during setup. */
  'E_MOUNT',
  /** Any other setup step failed (uid map, hostname, loopback, caps, seccomp load). */
  'E_SETUP',
  /** The program could not be executed (exit status 126) or found (127). */
  'E_EXEC',
  /** (Node only) the `sandboxctl-init` launcher was not found; the hint names the platform package. */
  'E_INIT_MISSING',
  /** (Node only) the `sandboxctl-oci` OCI runtime was not found (`sandboxctl oci`); the hint names the platform package. */
  'E_OCI_MISSING',
  /** (Node only) the napi addon could not be loaded. */
  'E_NATIVE_MISSING',
  /** (Node only) a config file (sandboxctl.json) is unreadable or invalid; the message names the file and JSON path. */
  'E_CONFIG_INVALID',
  /** (Node only) a sandboxctl.json found by looking up from the current directory is not trusted, or changed since it was (the message names the file and the `sandboxctl trust` command); or the trust store is unsafe. */
  'E_CONFIG_UNTRUSTED',
  /** The post-run audit found what host tools would execute and `onTaint` is `fail`, or a revert did not hold; `taint` lists it (exit 125, after the program ran). */
  'E_TAINTED',
  /** (OCI runtime) `config.json` does not decode or fails validation; the message names its JSON path (`linux.mounts[3].destination`). */
  'E_SPEC_INVALID',
  /** (OCI runtime) the operation is not valid in the container's state (the message names the state), as runtime-spec's lifecycle says. */
  'E_OCI_STATE',
  /** (OCI runtime) no container of that id under `--root`. */
  'E_OCI_NOT_FOUND',
  /** (OCI runtime) a container of that id already exists under `--root`. */
  'E_OCI_EXISTS',
  /** (OCI runtime) a lifecycle hook failed or timed out. */
  'E_HOOK',
  /** The image named by `root.image` is not usable: missing, not a directory or SquashFS file (the message names the file and the magic found), a corrupt SquashFS superblock, or a kind its write mode cannot take. */
  'E_IMAGE_INVALID',
  /** A SquashFS image cannot be served: `/dev/fuse` cannot be opened (the hint says how to open it to users) or the FUSE server program is missing. */
  'E_FUSE_UNAVAILABLE',
  /** A bind's target does not exist in a read-only image root and the op may not create it (`missingTarget: refuse`, `--image-bind`); the hint says how to make the image writable. */
  'E_TARGET_MISSING',
  /** `image import`: an archive entry would land outside the target (an absolute path, a `..` component, a symlinked parent, a hard link to outside, a whiteout of `..`); the message names the layer and the entry. Nothing is left behind. */
  'E_IMAGE_UNSAFE',
  /** `image import` or `image pack`: the destination exists (pass `--force` to replace it). */
  'E_IMAGE_EXISTS',
  /** A live sandbox's name is not `^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`. */
  'E_NAME_INVALID',
  /** A running sandbox of the caller's already has this name. */
  'E_NAME_IN_USE',
  /** No running sandbox of the caller's has this name. */
  'E_SANDBOX_NOT_FOUND',
  /** The sandbox ended (or is ending) while a request was made or served. */
  'E_SANDBOX_CLOSED',
  /** The control socket refused the peer: another user, or a process in another user namespace (inside a sandbox). */
  'E_CONTROL_DENIED',
  /** The registry directory of live sandboxes is not safe to use: not a directory we own, a symlink, or open to group or others (the message names it). */
  'E_REGISTRY_UNSAFE',
  /** A path to copy or to act on in a live sandbox does not exist (the message names it and where). */
  'E_NOT_FOUND',
  /** A path component is not a directory, or a directory was to be copied onto a file. */
  'E_NOT_DIR',
  /** A directory where a file was expected. */
  'E_IS_DIR',
  /** The path already exists. */
  'E_EXISTS',
  /** The directory is not empty. */
  'E_NOT_EMPTY',
  /** The target is on a read-only mount of the sandbox. */
  'E_READ_ONLY',
  /** The sandbox's user may not do this (EACCES, EPERM). */
  'E_PERMISSION',
  /** A copy would go through a symlink or leave its destination (an archive entry with `..`, a symlinked parent on the host). */
  'E_CP_UNSAFE',
  /** (CLI only) a bad flag or argument. */
  'E_USAGE',
  /** (CLI only) a bug in sandboxctl itself. */
  'E_INTERNAL',
  /** A cgroup limit (`memory`, `pids`, `cpus`) cannot be given here: no cgroup hierarchy we may write (unprivileged without a delegated cgroup v2 subtree, or the controller is missing); the hint says how to get one. */
  'E_LIMIT_UNAVAILABLE',
  /** `--join`: a peer group refused this peer: it closed (its timeout passed or its count was reached), or `--join-pid` names a process that is not in one of the caller's sandboxes (the message names the group or pid). */
  'E_JOIN',
  /** `--join`: the peers or the winner of a peer group did not come within the group's timeout (30 s by default; the message names the group and what was missing). */
  'E_JOIN_TIMEOUT',
  /** (Node only) the `sandboxctl-bwrap` bubblewrap drop-in was not found (`sandboxctl bwrap-path`); the hint names the platform package. */
  'E_BWRAP_MISSING',
  /** A namespace given by fd (`plan.joinNs`, bubblewrap's `--userns`, `--userns2`, `--pidns`) cannot be entered: the fd is closed, not a namespace, a namespace of another type, or one this process may not enter (the message names the fd and the errno). */
  'E_NS_JOIN',
  /** `run --image` with no command: the image config's `User` names a user or group that is not in the image's own /etc/passwd or /etc/group (the message names it and the image). */
  'E_IMAGE_USER',
] as const;

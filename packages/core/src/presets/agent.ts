/**
 * `agent`: for AI coding agents. The host readable but secrets hidden, the
 * current directory writable but the files other programs execute from kept
 * read-only, no network, credential-looking variables removed.
 */

import type { PresetDefinition } from './types';

/** Directories under $HOME holding keys, tokens, sessions and cookies. */
export const SECRET_DIRS = [
  '.ssh',
  '.gnupg',
  '.aws',
  '.azure',
  '.config/gcloud',
  '.kube',
  '.docker',
  '.config/gh',
  '.config/hub',
  '.config/op',
  '.config/doctl',
  '.oci',
  '.terraform.d',
  '.password-store',
  '.local/share/keyrings',
  '.pki',
  '.mozilla',
  '.config/google-chrome',
  '.config/chromium',
  '.config/BraveSoftware',
] as const;

/** Files under $HOME holding tokens and passwords, and shell histories. */
export const SECRET_FILES = [
  '.netrc',
  '.npmrc',
  '.yarnrc.yml',
  '.pypirc',
  '.git-credentials',
  '.config/git/credentials',
  '.cargo/credentials',
  '.cargo/credentials.toml',
  '.gem/credentials',
  '.vault-token',
  '.pgpass',
  '.my.cnf',
  '.s3cfg',
  '.boto',
  '.bash_history',
  '.zsh_history',
  '.python_history',
  '.node_repl_history',
  '.psql_history',
  '.mysql_history',
  '.local/share/fish/fish_history',
] as const;

/** Host sockets that hand out more than the sandbox has (docker can mount /). */
export const HOST_SOCKETS = [
  '/run/docker.sock',
  '/var/run/docker.sock',
  '/run/podman/podman.sock',
  '/run/containerd/containerd.sock',
  '/run/dbus/system_bus_socket',
] as const;

export const agent: PresetDefinition = {
  name: 'agent',
  summary: 'for AI coding agents: host readable but secrets hidden, current directory writable except protected paths, no network, credentials removed from the environment',
  description: [
    "The host filesystem read-only with a private /proc, /dev and /tmp, the current directory writable, and the program started there. Secrets are hidden: directories such as ~/.ssh, ~/.aws and ~/.gnupg behind an empty tmpfs with mode 0, files such as ~/.netrc and ~/.npmrc behind /dev/null (unreadable), the session's runtime directory (D-Bus, ssh-agent, gpg-agent sockets) replaced by an empty private one, and the docker, podman, containerd and system D-Bus sockets hidden. Only what exists on the host when the plan is made is hidden; everything else in $HOME stays readable and nothing there is writable.",
    "Git works (init, add, commit, branch, stash, checkout), also in a subdirectory of a repository, a linked worktree and a repository with submodules: the repository's git directory is writable, but a mount point, so it cannot be renamed, removed or replaced, and what git executes from stays read-only: config, hooks/, info/, commondir, config.worktree, worktrees/*/{commondir,gitdir,config.worktree}, the submodules' config, hooks/ and info/, a .git file, and the core.hooksPath directory (husky's .husky).",
    'Editors and agent tools: .vscode, .idea and .claude stay read-only (an empty read-only directory while they do not exist, invisible to git), .mcp.json and sandboxctl.json when they exist, and the same names in subdirectories; shell rc files, .gitconfig, .gitmodules and .ripgreprc when they exist. A protected symlink stays in place and what it points to is protected. `--allow-write PATH` lets the program write one of them; the post-run audit handles files the run creates.',
    'No network but loopback. Environment variables whose name or value looks like a credential (names matching TOKEN, SECRET, PASSWORD, PASSWD, API_KEY, ACCESS_KEY, PRIVATE_KEY, CREDENTIAL, AUTH, AWS_*, a trailing _KEY ...; values shaped like GitHub, GitLab, npm, Slack, OpenAI or AWS keys, or URLs with a password) are removed unless allowed with `--allow-env NAME`.',
    'It refuses to run with / or a directory that contains your home as the current directory: everything there would be writable, ~/.bashrc and ~/.local/bin included.',
  ],
  steps: [
    { op: { kind: 'bind', source: '/', target: '/' }, why: 'the host, read-only' },
    { op: { kind: 'proc', target: '/proc' }, why: 'processes of this sandbox only' },
    { op: { kind: 'dev', target: '/dev' }, why: 'null, zero, full, random, urandom, tty, a private pts and shm' },
    { op: { kind: 'tmpfs', target: '/tmp' }, why: 'private /tmp, empty, gone after the run' },
    { hide: ['{runtimeDir}'], mode: 0o700, why: 'session sockets (D-Bus, ssh-agent, gpg-agent): replaced by an empty private directory' },
    { hide: HOST_SOCKETS, why: 'a host socket that grants more than the sandbox has' },
    { op: { kind: 'bind', source: '{cwd}', target: '{cwd}', writable: true }, why: 'the current directory, writable' },
    { hide: SECRET_DIRS.map((p) => `{home}/${p}`), why: 'secret' },
    { hide: SECRET_FILES.map((p) => `{home}/${p}`), why: 'secret' },
    { protectGit: true, why: 'git acts on it' },
    {
      protect: [
        { path: '.vscode', type: 'dir', placeholder: true, nested: true },
        { path: '.idea', type: 'dir', placeholder: true, nested: true },
        { path: '.claude', type: 'dir', placeholder: true, nested: true },
        { path: '.mcp.json', type: 'file', placeholder: false, nested: true },
        { path: 'sandboxctl.json', type: 'file', placeholder: false, nested: true },
        { path: '.gitmodules', type: 'file', placeholder: false },
        { path: '.gitconfig', type: 'file', placeholder: false },
        { path: '.bashrc', type: 'file', placeholder: false },
        { path: '.bash_profile', type: 'file', placeholder: false },
        { path: '.bash_login', type: 'file', placeholder: false },
        { path: '.profile', type: 'file', placeholder: false },
        { path: '.zshrc', type: 'file', placeholder: false },
        { path: '.zshenv', type: 'file', placeholder: false },
        { path: '.zprofile', type: 'file', placeholder: false },
        { path: '.zlogin', type: 'file', placeholder: false },
        { path: '.ripgreprc', type: 'file', placeholder: false },
      ],
      why: 'editors, agents and shells act on it',
    },
  ],
  policy: {
    network: 'none',
    seccomp: 'strict',
    cwdHere: true,
    env: { clear: false, removeCredentials: true },
  },
  refuseCwd: ['root', 'above-home'],
  params: ['allowEnv', 'allowWrite'],
};

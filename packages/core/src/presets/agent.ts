/**
 * `agent`: for AI coding agents. The host readable but the home shown through
 * an allow-list (home.ts), root-only files hidden from root callers
 * (system-secrets.ts), host services out of reach (reach.ts), the current
 * directory writable but the files other programs execute from kept
 * read-only, no network, the environment passed by allow-list.
 */

import { HOST_READ_ONLY, PRIVATE_KERNEL_AND_TMP } from './steps';
import type { PresetDefinition } from './types';

export const agent: PresetDefinition = {
  name: 'agent',
  summary: 'for AI coding agents: host readable but the home shown by allow-list, current directory writable except protected paths, no network, no host sockets, environment by allow-list',
  description: [
    "The host filesystem read-only with a private /proc, /dev, /tmp and /var/tmp, the current directory writable, and the program started there. Your home (from the password database, symlinks resolved: not `$HOME`) is an empty private tmpfs, writable in memory only, and so is the directory of all homes (/home); into it come, when present, toolchains read-only (nvm, volta, fnm, asdf, mise, pyenv, rbenv, rustup, ~/.cargo/bin, ~/go/bin, ~/sdk, sdkman, ~/.local/bin, ~/.local/lib/python*…), caches copy-on-write (~/.npm, ~/.cache/pip, uv, go-build, yarn, pnpm, node-gyp, pre-commit, pypoetry, ms-playwright…, ~/.cargo/registry and git, ~/go/pkg/mod, ~/.m2/repository, ~/.gradle/caches…: the host cache is read, writes stay private and are dropped), a sanitized ~/.gitconfig and ~/.config/git/config (identity and harmless settings: no credential helpers, url rewrites, includes, `!` aliases or programs) and ~/.npmrc without tokens. Nothing else of the home shows: keys, tokens, histories, browser and mail profiles stay out because they are not on the list. `--allow-home PATH` shows one more path read-only (known secret files inside it stay hidden).",
    "Host services are out of reach: /run (and /var/run when it is a directory) and the session's runtime directory are empty private ones (docker, D-Bus, ssh-agent, gpg-agent, tmux sockets), and the sockets a bounded scan finds in the other usual places (the home's toolchains and `--allow-home` paths, $TMUX_TMPDIR, /var, /srv, /opt, /mnt, /media, the current directory) are masked (a socket in a copy-on-write cache refuses connections by itself: overlayfs shows its own inode, not the listener's); `--allow-socket PATH` lets one through. Without a network /etc/resolv.conf is empty and npm makes no fetch retries (`npm_config_fetch_retries=0`), so name lookups and installs fail at once; with `--share-net`, what DNS needs under /run stays. For a root caller, what the world cannot read under /etc and /var (/etc/shadow, ssh host keys, sudoers…) is hidden.",
    "Git works (init, add, commit, branch, stash, checkout), also in a subdirectory of a repository, a linked worktree and a repository with submodules: the repository's git directory is writable, but a mount point, so it cannot be renamed, removed or replaced, and what git executes from stays read-only: config, hooks/, info/, commondir, config.worktree, worktrees/*/{commondir,gitdir,config.worktree}, the submodules' config, hooks/ and info/, a .git file, and the core.hooksPath directory (husky's .husky).",
    'Editors and agent tools: .vscode, .idea and .claude stay read-only (an empty read-only directory while they do not exist, invisible to git), .mcp.json and sandboxctl.json when they exist, and the same names in subdirectories; shell rc files, .gitconfig, .gitmodules and .ripgreprc when they exist. A protected symlink stays in place and what it points to is protected. `--allow-write PATH` lets the program write one of them; the post-run audit handles files the run creates.',
    'No network but loopback. The environment passes an allow-list of names (locale, terminal, editor, toolchain homes and build settings, proxies, CA bundles such as SSL_CERT_FILE and AWS_CA_BUNDLE); every other variable is removed, and so is a variable on the list whose name or value looks like a credential (names matching TOKEN, SECRET, PASSWORD, PASSPHRASE, API_KEY, AUTH, a trailing _KEY, _PASS or _PWD ...; values shaped like GitHub, GitLab, npm, Slack, OpenAI, Anthropic, Stripe, Google, Azure or AWS keys, JWTs, or URLs with a password). `--allow-env NAME` keeps one variable whatever it holds.',
    'After the run, a post-run audit walks the current directory for what host tools would execute that the run created or changed: git configuration (core.fsmonitor, core.hooksPath, aliases with !, filters, includes...), hooks, redirects (commondir, .git files, gitlinks to new repositories), .vscode, .idea, .claude, .husky, .mcp.json, sandboxctl.json and .envrc. By default it puts back what was there and moves what is new into a quarantine under ~/.local/state/sandboxctl/quarantine (`--on-taint=fail` leaves it and exits with E_TAINTED, `--on-taint=warn` only reports).',
    'It refuses to run with / or a directory that contains your home as the current directory: everything there would be writable, ~/.bashrc and ~/.local/bin included.',
  ],
  steps: [
    HOST_READ_ONLY,
    ...PRIVATE_KERNEL_AND_TMP,
    { privateRun: true, why: 'host services' },
    { home: true, why: 'the home by allow-list' },
    { rootSecrets: true, why: 'root-only files' },
    { resolver: true, why: 'no nameserver without a network' },
    { sockets: 'host', why: 'host sockets' },
    { op: { kind: 'bind', source: '{cwd}', target: '{cwd}', writable: true }, why: 'the current directory, writable' },
    { protectGit: true, why: 'git acts on it' },
    {
      protect: [
        { path: '.vscode', type: 'dir', placeholder: true, nested: true },
        { path: '.idea', type: 'dir', placeholder: true, nested: true },
        { path: '.claude', type: 'dir', placeholder: true, nested: true },
        { path: '.mcp.json', type: 'file', placeholder: false, nested: true },
        { path: 'sandboxctl.json', type: 'file', placeholder: false, nested: true },
        { path: '.envrc', type: 'file', placeholder: false, nested: true },
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
    { sockets: 'cwd', why: 'host sockets in the current directory' },
  ],
  policy: {
    network: 'none',
    seccomp: 'strict',
    cwdHere: true,
    // Without a network npm retries each fetch for over a minute (10 s to 60 s back-off).
    env: { clear: false, removeCredentials: true, allowList: true, offlineSet: { npm_config_fetch_retries: '0' } },
    audit: true,
  },
  refuseCwd: ['root', 'above-home'],
  params: ['allowEnv', 'allowHome', 'allowSocket', 'allowWrite'],
};

/**
 * A fixed, made-up host the docs and the snapshot tests resolve presets
 * against, so both show the same ops on every machine: user `user` with a
 * few secrets in $HOME, working in a git checkout at ~/project.
 */

import { fakeHost } from './host';
import type { PresetName, PresetOptions } from './types';

export const EXAMPLE_HOME = '/home/user';
export const EXAMPLE_CWD = '/home/user/project';

export const EXAMPLE_HOST = fakeHost({
  '/usr': 'dir',
  '/etc': 'dir',
  '/bin': 'symlink:usr/bin',
  '/sbin': 'symlink:usr/sbin',
  '/lib': 'symlink:usr/lib',
  '/lib64': 'symlink:usr/lib64',
  '/usr/bin': 'dir',
  '/usr/sbin': 'dir',
  '/usr/lib': 'dir',
  '/usr/lib64': 'dir',
  '/etc/resolv.conf': 'file:nameserver 192.0.2.53\n',
  '/etc/shadow': 'private',
  '/run/user/1000': 'dir',
  '/run/docker.sock': 'socket',
  '/var/run': 'symlink:/run',
  '/var/tmp': 'dir',
  '/srv/app/app.sock': 'socket',
  '/home/other/.ssh': 'dir',
  '/home/user/.nvm': 'dir',
  '/home/user/.cargo/bin': 'dir',
  '/home/user/.cargo/registry': 'dir',
  '/home/user/.npm': 'dir',
  '/home/user/.cache/pip': 'dir',
  '/home/user/.gitconfig':
    'file:[user]\n\tname = User\n\temail = user@example.com\n[credential]\n\thelper = store\n[url "https://user:secret@git.example.com/"]\n\tinsteadOf = https://git.example.com/\n[core]\n\tpager = less\n\tautocrlf = input\n',
  '/home/user/.ssh': 'dir',
  '/home/user/.aws': 'dir',
  '/home/user/.gnupg': 'dir',
  '/home/user/.config/gcloud': 'dir',
  '/home/user/.docker': 'dir',
  '/home/user/.netrc': 'file',
  '/home/user/.npmrc': 'file:registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=example\n',
  '/home/user/.git-credentials': 'file',
  '/home/user/.bash_history': 'file',
  '/home/user/project/.git/HEAD': 'file',
  '/home/user/project/.git/config': 'file',
  '/home/user/project/.git/objects': 'dir',
  '/home/user/project/.git/refs': 'dir',
  '/home/user/project/.vscode': 'dir',
  '/home/user/project/.gitmodules': 'file',
  '/home/user/project/src': 'dir',
  '/home/user/project/out': 'dir',
});

export const EXAMPLE_ENV: Readonly<Record<string, string>> = {
  HOME: EXAMPLE_HOME,
  PATH: '/usr/local/bin:/usr/bin:/bin',
  XDG_RUNTIME_DIR: '/run/user/1000',
  SSH_AUTH_SOCK: '/run/user/1000/ssh-agent.socket',
  GITHUB_TOKEN: 'example',
  AWS_ACCESS_KEY_ID: 'example',
  AWS_SECRET_ACCESS_KEY: 'example',
  DATABASE_URL: 'postgres://app:example@db/app',
  GIT_AUTHOR_NAME: 'User',
  LANG: 'en_US.UTF-8',
  EDITOR: 'vim',
  AWS_CA_BUNDLE: '/etc/ssl/certs/ca-certificates.crt',
  MYSQL_PWD: 'example',
  DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus',
};

/** The example context for one preset. */
export function exampleOptions(name: PresetName): PresetOptions {
  return { name, cwd: EXAMPLE_CWD, home: EXAMPLE_HOME, env: EXAMPLE_ENV, host: EXAMPLE_HOST, uid: 1000 };
}

/** The example host in words, for the docs. */
export const EXAMPLE_DESCRIPTION =
  'The example host: user `user` (uid 1000) with home `/home/user`, working in the git checkout `/home/user/project` (it has `.git` without `hooks`, `.vscode` and `.gitmodules`, and `src` and `out`); in the home, secrets (`~/.ssh`, `~/.aws`, `~/.gnupg`, `~/.config/gcloud`, `~/.docker`, `~/.netrc`, `~/.git-credentials`, `~/.bash_history`), toolchains (`~/.nvm`, `~/.cargo/bin`), caches (`~/.npm`, `~/.cache/pip`, `~/.cargo/registry`), a `~/.gitconfig` with a credential helper and a URL with a password, and a `~/.npmrc` with a token; another user `other` in `/home/other`; `/run/user/1000`, `/run/docker.sock` and a socket `/srv/app/app.sock` exist, `/var/run` links to `/run`; `/bin`, `/sbin`, `/lib` and `/lib64` are symlinks into `/usr`; the environment holds `GITHUB_TOKEN`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `DATABASE_URL` (with a password), `MYSQL_PWD`, `SSH_AUTH_SOCK`, `DBUS_SESSION_BUS_ADDRESS` and `AWS_CA_BUNDLE`, among others.';

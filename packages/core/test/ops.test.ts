import { plan, PlanBuilder, PLAN_VERSION, isPlanBuilder } from '../src/plan/builder';

describe('plan builder', () => {
  it('starts with the version, argv and no ops', () => {
    expect(plan(['true']).build()).toEqual({ version: PLAN_VERSION, argv: ['true'], ops: [] });
    expect(new PlanBuilder().build()).toEqual({ version: 1, argv: [], ops: [] });
  });

  it('appends ops in call order, with bubblewrap semantics per bind flavour', () => {
    const built = plan(['sh'])
      .roBind('/usr', '/usr')
      .bind('/home/me/work', '/work')
      .devBind('/dev/dri', '/dev/dri')
      .roBindTry('/etc/resolv.conf', '/etc/resolv.conf')
      .bindTry('/var/cache/x', '/cache')
      .devBindTry('/dev/kvm', '/dev/kvm')
      .build();
    expect(built.ops).toEqual([
      { kind: 'bind', source: '/usr', target: '/usr' },
      { kind: 'bind', source: '/home/me/work', target: '/work', writable: true },
      { kind: 'bind', source: '/dev/dri', target: '/dev/dri', writable: true, device: true },
      { kind: 'bind', source: '/etc/resolv.conf', target: '/etc/resolv.conf', optional: true },
      { kind: 'bind', source: '/var/cache/x', target: '/cache', writable: true, optional: true },
      { kind: 'bind', source: '/dev/kvm', target: '/dev/kvm', writable: true, device: true, optional: true },
    ]);
  });

  it('builds every other op kind, writing only the options given', () => {
    const built = plan(['sh'])
      .proc('/proc')
      .dev('/dev')
      .tmpfs('/tmp')
      .tmpfs('/run', { size: 1 << 20, mode: 0o700 })
      .dir('/home')
      .dir('/srv', { mode: 0o750 })
      .symlink('usr/bin', '/bin')
      .file('/etc/hostname', 'box\n')
      .file('/etc/secret', 's', { mode: 0o400 })
      .remountRo('/')
      .build();
    expect(built.ops).toEqual([
      { kind: 'proc', target: '/proc' },
      { kind: 'dev', target: '/dev' },
      { kind: 'tmpfs', target: '/tmp' },
      { kind: 'tmpfs', target: '/run', size: 1048576, mode: 0o700 },
      { kind: 'dir', target: '/home' },
      { kind: 'dir', target: '/srv', mode: 0o750 },
      { kind: 'symlink', target: '/bin', linkname: 'usr/bin' },
      { kind: 'file', target: '/etc/hostname', data: 'box\n' },
      { kind: 'file', target: '/etc/secret', data: 's', mode: 0o400 },
      { kind: 'remount', target: '/' },
    ]);
  });

  it('keeps a symlink target as given, never resolved', () => {
    expect(plan().symlink('../../etc/x', '/a/b').build().ops).toEqual([
      { kind: 'symlink', target: '/a/b', linkname: '../../etc/x' },
    ]);
  });

  it('accepts raw ops and copies them', () => {
    const op = { kind: 'file' as const, target: '/etc/x', source: '/host/x' };
    const builder = plan().op(op);
    op.target = '/changed';
    expect(builder.build().ops).toEqual([{ kind: 'file', target: '/etc/x', source: '/host/x' }]);
  });

  it('sets the policy', () => {
    const built = plan(['id'])
      .cwd('/work')
      .uid(0)
      .gid(0)
      .hostname('box')
      .shareNet()
      .seccomp('none')
      .lingerMs(0)
      .dieWithParent(false)
      .newSession(false)
      .namespaces({ ipc: false })
      .build();
    expect(built).toEqual({
      version: 1,
      argv: ['id'],
      ops: [],
      cwd: '/work',
      uid: 0,
      gid: 0,
      hostname: 'box',
      network: 'host',
      seccomp: { preset: 'none' },
      lingerMs: 0,
      dieWithParent: false,
      newSession: false,
      namespaces: { ipc: false },
    });
    expect(plan().network('none').build().network).toBe('none');
    expect(plan(['a']).argv(['b', 'c']).build().argv).toEqual(['b', 'c']);
  });

  describe('environment', () => {
    it('sets and unsets; a later call for the same name wins', () => {
      expect(plan().setenv('A', '1').setenv('B', '2').unsetenv('C').build().env).toEqual({
        set: { A: '1', B: '2' },
        unset: ['C'],
      });
      expect(plan().setenv('A', '1').unsetenv('A').build().env).toEqual({ unset: ['A'] });
      expect(plan().unsetenv('A').setenv('A', '2').build().env).toEqual({ set: { A: '2' } });
      expect(plan().unsetenv('A').unsetenv('A').build().env).toEqual({ unset: ['A'] });
    });

    it('clearenv drops earlier settings and stops inheriting', () => {
      expect(plan().setenv('A', '1').unsetenv('B').clearenv().setenv('PATH', '/usr/bin').build().env).toEqual({
        inherit: false,
        set: { PATH: '/usr/bin' },
      });
      // Nothing to unset from an empty environment.
      expect(plan().clearenv().unsetenv('X').build().env).toEqual({ inherit: false });
    });

    it('env() replaces the policy with a copy', () => {
      const policy = { inherit: false, set: { A: '1' } };
      const builder = plan().setenv('B', '2').env(policy);
      policy.set.A = 'changed';
      expect(builder.build().env).toEqual({ inherit: false, set: { A: '1' } });
    });
  });

  it('build() returns an independent copy', () => {
    const builder = plan(['x']).tmpfs('/tmp');
    const first = builder.build();
    builder.dir('/d').setenv('A', '1');
    first.ops!.push({ kind: 'proc', target: '/proc' });
    expect(first.env).toBeUndefined();
    expect(builder.build().ops).toEqual([
      { kind: 'tmpfs', target: '/tmp' },
      { kind: 'dir', target: '/d' },
    ]);
    expect(builder.ops).toHaveLength(2);
  });

  it('serializes to the JSON the launcher reads', () => {
    const json = JSON.stringify(plan(['true']).roBind('/', '/').build());
    expect(json).toBe('{"version":1,"argv":["true"],"ops":[{"kind":"bind","source":"/","target":"/"}]}');
  });

  it('isPlanBuilder tells builders from arrays', () => {
    expect(isPlanBuilder(plan())).toBe(true);
    expect(isPlanBuilder([])).toBe(false);
    expect(isPlanBuilder(undefined)).toBe(false);
  });
});

// The post-run audit as presets and options set it up.

import { auditRoots, auditSpec, buildPlan, explainPlan, formatExplanation, withOnTaint, ERROR_CODES, SandboxError } from '../src';

describe('auditRoots', () => {
  it('normalizes, drops duplicates, roots inside others and /', () => {
    expect(auditRoots({ cwd: '/home/u/p/' })).toEqual(['/home/u/p']);
    expect(auditRoots({ cwd: '/home/u/p/sub' }, ['/home/u/p', '/home/u/p/.git', '/', 'relative', '/home/u/p'])).toEqual(['/home/u/p']);
    expect(auditRoots({ cwd: '/w/a' }, ['/w/ab', '/srv/repo.git'])).toEqual(['/w/a', '/w/ab', '/srv/repo.git']);
  });
});

describe('withOnTaint', () => {
  it('sets the mode of an audit', () => {
    expect(withOnTaint(auditSpec(['/p']), 'fail', 'x')).toEqual({ roots: ['/p'], onTaint: 'fail' });
  });

  it('refuses a plan without an audit, and unknown modes, with E_PLAN_INVALID', () => {
    expect(() => withOnTaint(undefined, 'warn', '--on-taint')).toThrow(expect.objectContaining({ code: 'E_PLAN_INVALID', path: 'audit' }));
    expect(() => withOnTaint(auditSpec(['/p']), 'ignore' as 'warn', 'onTaint')).toThrow(expect.objectContaining({ code: 'E_PLAN_INVALID', path: 'audit.onTaint' }));
  });
});

describe('the library options', () => {
  const home = '/home/u';
  it('the agent preset turns the audit on; onTaint changes its mode', () => {
    const preset = { name: 'agent' as const, cwd: '/home/u/p', home, env: {} };
    expect(buildPlan({ argv: ['true'], preset }).audit).toEqual({ roots: ['/home/u/p'], onTaint: 'revert' });
    expect(buildPlan({ argv: ['true'], preset, onTaint: 'warn' }).audit).toEqual({ roots: ['/home/u/p'], onTaint: 'warn' });
    expect(() => buildPlan({ argv: ['true'], onTaint: 'fail' })).toThrow(SandboxError);
  });

  it('explain says what happens after the run', () => {
    const text = formatExplanation(explainPlan({ version: 1, argv: ['true'], audit: { roots: ['/p'], onTaint: 'fail' } }));
    expect(text).toContain('after the run');
    expect(text).toContain('E_TAINTED');
  });

  it('E_TAINTED is a stable code', () => {
    expect(ERROR_CODES).toContain('E_TAINTED');
    expect(new SandboxError('E_TAINTED', 'x', { taint: [] }).taint).toEqual([]);
  });
});

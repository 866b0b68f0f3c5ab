import { native } from './support/native-mock';

const mockCheckPlan = native.checkPlan;
native.probe.mockImplementation(() => ({ kernelRelease: '6.1.0', userns: { available: true }, seccomp: true, landlockAbi: 1 }));
native.version.mockImplementation(() => '9.9.9');
native.planSchema.mockImplementation(() => '{"title":"Plan"}');
jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('./support/native-mock')>('./support/native-mock').native);

import * as core from '../src/index';

describe('@sandboxctl/core entry', () => {
  it('exports the API', () => {
    for (const name of ['plan', 'PlanBuilder', 'run', 'spawn', 'buildPlan', 'SandboxError', 'isSandboxError', 'diagnose', 'checkPlan', 'probe', 'version', 'planSchema', 'importImage', 'packImage', 'inspectImage']) {
      expect(typeof (core as Record<string, unknown>)[name]).toBe('function');
    }
  });

  it('checkPlan takes a builder, a plan or JSON text, and passes the JSON to the addon', () => {
    const builder = core.plan(['true']).proc('/proc');
    const json = JSON.stringify(builder.build());
    expect(core.checkPlan(builder)).toBeNull();
    expect(core.checkPlan(builder.build())).toBeNull();
    expect(core.checkPlan(json)).toBeNull();
    expect(mockCheckPlan.mock.calls.map(([text]) => text)).toEqual([json, json, json]);
    const problem = { code: 'E_PLAN_INVALID', message: 'plan.argv: must not be empty', path: 'plan.argv' };
    mockCheckPlan.mockReturnValueOnce(problem);
    expect(core.checkPlan(core.plan())).toEqual(problem);
  });

  it('probe, version and planSchema come from the addon', () => {
    expect(core.probe().kernelRelease).toBe('6.1.0');
    expect(core.version()).toBe('9.9.9');
    expect(core.planSchema()).toBe('{"title":"Plan"}');
  });
});

/**
 * The stand-in for `@sandboxctl/native` that unit tests load instead of the
 * addon, so what the addon answers for plans, probes and seccomp is the
 * test's to decide. One per test file (jest keeps a module registry per file;
 * `requireActual` of this unmocked module gives the test's own instance):
 *
 *   import { native } from './support/native-mock';
 *   jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('./support/native-mock')>('./support/native-mock').native);
 *
 * Every entry is a `jest.fn` with a neutral default (every plan accepted,
 * the real plan schema from schema/plan.schema.json, a test version); a
 * test changes one with `mockImplementation` and puts the defaults back
 * with {@link resetNative}. The pure functions whose answer is the Rust
 * side's own (op descriptions, the config file check and its schema) call
 * the real addon: a stand-in would be a second copy of the contract.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as Native from '@sandboxctl/native';

const PLAN_SCHEMA = join(__dirname, '..', '..', '..', '..', 'schema', 'plan.schema.json');

/** The real addon, loaded on first use. */
function real(): typeof Native {
  return jest.requireActual<typeof Native>('@sandboxctl/native');
}

const defaults = {
  describeOps: (opsJson: string): string[] => real().describeOps(opsJson),
  checkConfig: (json: string): Native.ConfigProblem | null => real().checkConfig(json),
  configSchema: (): string => real().configSchema(),
  checkPlan: (_json: string): Native.PlanProblem | null => null,
  probe: (): Native.Probe => {
    throw new Error('probe: not used by this test');
  },
  version: (): string => '0.0.0-test',
  planSchema: (): string => readFileSync(PLAN_SCHEMA, 'utf8'),
  compileSeccomp: (_policyJson: string, _keepSession: boolean, _arch?: string | null): Buffer[] => {
    throw new Error('compileSeccomp: not used by this test');
  },
};

/** The mocked module. */
export const native = {
  describeOps: jest.fn(defaults.describeOps),
  checkConfig: jest.fn(defaults.checkConfig),
  configSchema: jest.fn(defaults.configSchema),
  checkPlan: jest.fn(defaults.checkPlan),
  probe: jest.fn(defaults.probe),
  version: jest.fn(defaults.version),
  planSchema: jest.fn(defaults.planSchema),
  compileSeccomp: jest.fn(defaults.compileSeccomp),
};

/** Every entry back to its default, calls forgotten. */
export function resetNative(): void {
  for (const name of Object.keys(defaults) as (keyof typeof defaults)[]) {
    native[name].mockReset();
    (native[name] as jest.Mock).mockImplementation(defaults[name]);
  }
}

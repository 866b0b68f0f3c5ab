// The report channel's parsing: every line is a Report (or an event this
// library does not know, skipped); a line that is not JSON is E_SETUP.

import { parseReport } from '../src/launcher/reports';

describe('parseReport', () => {
  it('reads each event of the contract', () => {
    expect(parseReport('{"event":"spawned","pid":42}')).toEqual({ event: 'spawned', pid: 42 });
    expect(parseReport('{"event":"started"}')).toEqual({ event: 'started' });
    expect(parseReport('{"code":"E_MOUNT","event":"error","message":"cannot mount","opIndex":0}')).toEqual({ event: 'error', code: 'E_MOUNT', message: 'cannot mount', opIndex: 0 });
    expect(parseReport('{"event":"audit","action":"revert","findings":[],"status":0}')).toEqual({ event: 'audit', action: 'revert', findings: [], status: 0 });
  });

  it('skips events it does not know and lines that are no report', () => {
    for (const text of ['{"event":"resized"}', '{"event":"error"}', '{"event":"spawned"}', '{"pid":3}', '7', 'null', '"x"']) {
      expect([text, parseReport(text)]).toEqual([text, undefined]);
    }
  });

  it('refuses a line that is not JSON with E_SETUP, quoting it', () => {
    expect(() => parseReport('this is not json')).toThrow(expect.objectContaining({ code: 'E_SETUP', message: 'unreadable report from sandboxctl-init: "this is not json"' }));
  });
});

/**
 * Starting plans: the launcher's path, the caller fds it gets, the report
 * channel it answers on, and the {@link SandboxProcess} that follows a run.
 */

export { assertCallerFdsOpen, callerFds, FIRST_PASSED_FD, isFdOpen, remapCallerFds, type CallerFd } from './fds';
export { resolveBwrap, resolveInit, resolveOci } from './init';
export { parseReport, ReportChannel, type ReportHandler } from './reports';
export { canUseTty, type StdioEntry, type StdioOption } from './terminal';
export { CLEANUP_GRACE_MS, KILL_GRACE_MS, SandboxProcess, type ExitResult, type LaunchOptions } from './process';
export { checkJoinTag, countFromEnv, joinArgs, parseJoinCount, parseJoinPid, resolveJoin, tagFromEnv, type JoinOptions, type JoinSpec } from './join';

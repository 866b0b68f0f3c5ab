/**
 * Plans: the generated types, the typed builder, how layers compose, paths
 * in ops, and the sources a plan is resolved from.
 */

export * from './types';
export * from './builder';
export { composePlan, mergeEnv, type PlanLayer } from './compose';
export { mapOpPaths, OP_PATH_FIELDS, resolveOpPaths } from './paths';
export { resolvePlan, type ImageOption, type OpOrigin, type PlanSources, type ResolvedPlan, type SourceOption } from './sources';
export { expandGlob, FS_RULE_KINDS, fsRuleOps, type FilesystemRules, type FsRuleKind, type FsRuleName, type FsRuleOp } from './fsrules';
export { parseCpus, parseDuration, parseRlimit, parseRlimitFlag, parseSize, planLimits, RLIMIT_NAMES, type LimitName, type LimitsOption } from './limits';

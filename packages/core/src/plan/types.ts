/** The plan's types, generated from the Rust serde types (../plan-types.ts), under the plan folder. */

export * from '../plan-types';

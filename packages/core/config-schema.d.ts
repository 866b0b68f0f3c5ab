/** Plan fields a config file cannot set. */
export declare const EXCLUDED: readonly string[];

/** The JSON Schema of sandboxctl.json, built from the plan's JSON Schema. */
export declare function configSchema(planSchema: Record<string, unknown>, presetNames: readonly string[]): Record<string, unknown>;

'use strict';
// The JSON Schema of sandboxctl.json, built from the plan's schema: every
// plan field but `argv` and `version`, the plan's definitions embedded (so an
// editor needs this one file), plus the config's own keys. Plain CommonJS so
// scripts/gen-config-schema.mjs can write schema/config.schema.json from it
// without a TypeScript build, and the library can build the same schema at
// run time from the plan schema compiled into the addon.

/** Plan fields a config file cannot set: the program is always the caller's. */
const EXCLUDED = ['argv', 'version'];

/**
 * @param {Record<string, any>} planSchema the plan's JSON Schema (schema/plan.schema.json)
 * @param {readonly string[]} presetNames
 */
function configSchema(planSchema, presetNames) {
  const planProperties = planSchema.properties || {};
  const properties = {
    $schema: {
      description: 'Where editors find this schema, e.g. "./node_modules/sandboxctl/schema/config.schema.json".',
      type: 'string',
    },
    preset: {
      description: 'Start from this preset; its ops come first, the ops below after, and the fields below override its policy.',
      type: 'string',
      enum: [...presetNames],
    },
    allowEnv: {
      description: 'Variables the agent preset keeps although they look like credentials.',
      type: 'array',
      items: { type: 'string' },
    },
    inputs: {
      description: "The build preset's readable inputs (default: the current directory); relative paths resolve against this file's directory.",
      type: 'array',
      items: { type: 'string' },
    },
    output: {
      description: "The build preset's writable output directory (default: ./out); relative to this file's directory.",
      type: 'string',
    },
  };
  for (const [name, schema] of Object.entries(planProperties)) {
    if (EXCLUDED.includes(name)) continue;
    properties[name] = name === 'ops' || name === 'cwd' ? withRelativeNote(schema) : schema;
  }
  const out = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'sandboxctl.json',
    description:
      'A sandboxctl config file: a preset, extra ops and policy. Found in the current directory or the nearest parent that has one, or named with --config; command-line flags override it.',
    type: 'object',
    properties,
    additionalProperties: false,
  };
  if (planSchema.$defs) out.$defs = planSchema.$defs;
  return out;
}

function withRelativeNote(schema) {
  const note = "Relative paths (source, target, upper, work, lowers, cwd) resolve against this file's directory.";
  return { ...schema, description: schema.description ? `${schema.description} ${note}` : note };
}

module.exports = { configSchema, EXCLUDED };

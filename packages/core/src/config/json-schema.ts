/**
 * A small JSON Schema checker for the subset the plan and config schemas use
 * (type, properties, required, additionalProperties, items, enum, const,
 * oneOf/anyOf/allOf, $ref to #/$defs, minimum/maximum, uint formats). It
 * reports the first problem with the JSON path of the value, so a config
 * error can name `ops[2].target`. For `oneOf` over objects that carry a
 * `kind` const it checks the variant of that kind, which gives the precise
 * error instead of "matches none of 8 variants".
 */

export type Schema = Record<string, unknown>;

/** The keywords {@link checkSchema} understands; others make it throw. */
export const KNOWN_KEYWORDS = new Set([
  '$schema',
  '$defs',
  '$ref',
  '$id',
  'title',
  'description',
  'default',
  'examples',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'oneOf',
  'anyOf',
  'allOf',
  'minimum',
  'maximum',
  'format',
]);

export interface SchemaProblem {
  /** JSON path from the document root, e.g. `ops[2].target` ('' for the root). */
  path: string;
  message: string;
}

/** The first problem of `value` against `schema`, or null. */
export function checkSchema(value: unknown, schema: Schema): SchemaProblem | null {
  return check(value, schema, schema, '');
}

function check(value: unknown, schema: Schema, root: Schema, path: string): SchemaProblem | null {
  for (const key of Object.keys(schema)) {
    if (!KNOWN_KEYWORDS.has(key)) throw new Error(`unsupported JSON Schema keyword ${key} at ${path || '(root)'}`);
  }
  if (typeof schema.$ref === 'string') {
    const target = resolveRef(schema.$ref, root);
    const problem = check(value, target, root, path);
    if (problem) return problem;
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => hasType(value, t))) return fail(path, `expected ${types.join(' or ')}, got ${describe(value)}`);
  }
  if (schema.const !== undefined && !same(value, schema.const)) return fail(path, `expected ${JSON.stringify(schema.const)}, got ${describe(value)}`);
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => same(value, e))) {
    return fail(path, `expected one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${describe(value)}`);
  }
  if (typeof value === 'number') {
    const bounds = formatBounds(schema.format);
    const min = typeof schema.minimum === 'number' ? schema.minimum : bounds?.[0];
    const max = typeof schema.maximum === 'number' ? schema.maximum : bounds?.[1];
    if (min !== undefined && value < min) return fail(path, `must be at least ${min}, got ${value}`);
    if (max !== undefined && value > max) return fail(path, `must be at most ${max}, got ${value}`);
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    for (let i = 0; i < value.length; i += 1) {
      const problem = check(value[i], schema.items as Schema, root, `${path}[${i}]`);
      if (problem) return problem;
    }
  }
  if (isObject(value)) {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required ?? []) as string[]) {
      if (!(name in value)) return fail(path, `${name} is required`);
    }
    for (const [name, item] of Object.entries(value)) {
      const sub = join(path, name);
      if (name in properties) {
        const problem = check(item, properties[name]!, root, sub);
        if (problem) return problem;
      } else if (schema.additionalProperties === false) {
        const known = Object.keys(properties);
        return fail(sub, `unknown field ${JSON.stringify(name)}${known.length ? `; known: ${known.join(', ')}` : ''}`);
      } else if (isObject(schema.additionalProperties)) {
        const problem = check(item, schema.additionalProperties, root, sub);
        if (problem) return problem;
      }
    }
  }
  if (Array.isArray(schema.allOf)) {
    for (const sub of schema.allOf as Schema[]) {
      const problem = check(value, sub, root, path);
      if (problem) return problem;
    }
  }
  if (Array.isArray(schema.anyOf)) {
    const problems = (schema.anyOf as Schema[]).map((sub) => check(value, sub, root, path));
    if (problems.every((p) => p !== null)) return deepest(problems);
  }
  if (Array.isArray(schema.oneOf)) return checkOneOf(value, schema.oneOf as Schema[], root, path);
  return null;
}

function checkOneOf(value: unknown, variants: Schema[], root: Schema, path: string): SchemaProblem | null {
  const kinds = variants.map((v) => kindOf(v, root));
  if (isObject(value) && kinds.every((k) => k !== undefined)) {
    if (typeof value.kind !== 'string') return fail(join(path, 'kind'), `expected one of ${kinds.map((k) => JSON.stringify(k)).join(', ')}`);
    const index = kinds.indexOf(value.kind);
    if (index === -1) return fail(join(path, 'kind'), `unknown kind ${JSON.stringify(value.kind)}; known: ${kinds.join(', ')}`);
    return check(value, variants[index]!, root, path);
  }
  const problems = variants.map((v) => check(value, v, root, path));
  const matched = problems.filter((p) => p === null).length;
  if (matched === 1) return null;
  if (matched > 1) return fail(path, `matches more than one alternative`);
  const consts = variants.map((v) => v.const);
  if (consts.every((c) => c !== undefined)) return fail(path, `expected one of ${consts.map((c) => JSON.stringify(c)).join(', ')}, got ${describe(value)}`);
  return deepest(problems as SchemaProblem[]);
}

function kindOf(variant: Schema, root: Schema): string | undefined {
  const resolved = typeof variant.$ref === 'string' ? resolveRef(variant.$ref, root) : variant;
  const kind = (resolved.properties as Record<string, Schema> | undefined)?.kind;
  return typeof kind?.const === 'string' ? kind.const : undefined;
}

function resolveRef(ref: string, root: Schema): Schema {
  if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  if (!isObject(node)) throw new Error(`$ref ${ref} does not resolve`);
  return node;
}

function formatBounds(format: unknown): [number, number] | undefined {
  if (format === 'uint32') return [0, 0xffff_ffff];
  if (format === 'int32') return [-0x8000_0000, 0x7fff_ffff];
  if (format === 'uint64') return [0, Number.MAX_SAFE_INTEGER];
  if (format === 'uint8') return [0, 255];
  return undefined;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
    default:
      throw new Error(`unsupported JSON Schema type ${type}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value; // not a JSON value (undefined)
}

function join(path: string, name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? (path ? `${path}.${name}` : name) : `${path}[${JSON.stringify(name)}]`;
}

function fail(path: string, message: string): SchemaProblem {
  return { path, message };
}

// Of several failed alternatives, the one that got furthest into the value.
function deepest(problems: SchemaProblem[]): SchemaProblem {
  return problems.reduce((best, p) => (p.path.length > best.path.length ? p : best));
}

// Envoy's own v3 API, as a protobuf schema the tests can check envoy/envoy.yaml
// against without an Envoy binary.
//
// The API protos come from the npm package @grpc/grpc-js-xds (deps/: envoy-api,
// xds, googleapis, protoc-gen-validate). They are copied into a temporary buf
// workspace (never into the repository), `buf build` turns them into one
// FileDescriptorSet, and @bufbuild/protobuf reads the configuration with it:
//
//  1. decode: YAML -> JSON value -> `fromJson(Bootstrap)`. That is the proto3 JSON
//     mapping Envoy itself applies to YAML, and it is strict: an unknown key, a
//     value of the wrong type, an unknown enum name, a malformed Duration and an
//     `@type` that names no known message all throw. Every `typed_config` (an
//     Any) is decoded strictly too, recursively, through the registry.
//  2. validate: the protoc-gen-validate rules Envoy enforces when it loads a
//     config (required messages and oneofs, string lengths, numeric bounds,
//     enum defined_only, repeated/map sizes, Duration bounds, Any type lists)
//     plus a ban on deprecated fields and enum values, walking every message,
//     list, map and unpacked Any.

import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  type DescEnum,
  type DescExtension,
  type DescField,
  type DescMessage,
  type FileRegistry,
  type JsonValue,
  type Message,
  ScalarType,
  createFileRegistry,
  fromBinary,
  fromJson,
  getOption,
  hasOption,
  toJson,
} from '@bufbuild/protobuf';
import { type ReflectMessage, isReflectList, isReflectMap, isReflectMessage, reflect } from '@bufbuild/protobuf/reflect';
import { type Any, FeatureSet_FieldPresence, FileDescriptorSetSchema, anyUnpack } from '@bufbuild/protobuf/wkt';
import { parseDocument } from 'yaml';

export const repoRoot = join(__dirname, '..', '..');
const depsRoot = join(repoRoot, 'node_modules', '@grpc', 'grpc-js-xds', 'deps');
const bufBin = join(repoRoot, 'node_modules', '.bin', 'buf');

/** Top directories of each vendored tree that hold importable protos. */
const TREES: Record<string, string[]> = {
  'envoy-api': ['envoy'],
  xds: ['xds', 'udpa'],
  googleapis: ['google'],
  'protoc-gen-validate': ['validate'],
};

export const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';

export interface EnvoySchema {
  registry: FileRegistry;
  bootstrap: DescMessage;
  /** How many .proto files went into the build, and which were left out (unresolvable imports). */
  fileCount: number;
  skipped: string[];
}

/**
 * The copy of protoc-gen-validate in @grpc/grpc-js-xds predates
 * `StringRules.ignore_empty`, which some Envoy protos (core/v3/protocol.proto,
 * oauth2, geoip, ...) use. Upstream declares it as field 26 of StringRules.
 */
function patchValidateProto(file: string): void {
  const anchor = 'optional bool strict = 25 [default = true];';
  const src = readFileSync(file, 'utf8');
  if (/\bignore_empty\b/.test(src.slice(src.indexOf('message StringRules'), src.indexOf('enum KnownRegex')))) return;
  if (!src.includes(anchor)) throw new Error(`cannot patch ${file}: "${anchor}" not found`);
  writeFileSync(file, src.replace(anchor, `${anchor}\n  optional bool ignore_empty = 26;`));
}

/** Builds the Envoy API descriptor set in a temporary directory and loads it. */
export function buildEnvoySchema(timeoutMs = 60_000): EnvoySchema {
  const files = new Map<string, string>(); // import path -> absolute path
  const walk = (base: string, rel: string): void => {
    for (const entry of readdirSync(join(base, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(base, child);
      else if (entry.name.endsWith('.proto')) files.set(child, join(base, child));
    }
  };
  for (const [tree, tops] of Object.entries(TREES)) for (const top of tops) walk(join(depsRoot, tree), top);

  // The npm package ships a subset of the API: some files (v2, alpha, tracing
  // back-ends) import protos it does not include. Keep every file whose imports
  // all resolve; google/protobuf/* is built into buf.
  const imports = new Map<string, string[]>();
  for (const [path, abs] of files) {
    const src = readFileSync(abs, 'utf8');
    imports.set(path, [...src.matchAll(/^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm)].map((m) => m[1]));
  }
  const resolvable = new Map<string, boolean>();
  const resolves = (path: string, visiting: Set<string>): boolean => {
    if (path.startsWith('google/protobuf/')) return true;
    if (!files.has(path)) return false;
    const known = resolvable.get(path);
    if (known !== undefined) return known;
    if (visiting.has(path)) return true;
    visiting.add(path);
    const ok = imports.get(path)!.every((i) => resolves(i, visiting));
    visiting.delete(path);
    resolvable.set(path, ok);
    return ok;
  };
  const keep = [...files.keys()].filter((p) => resolves(p, new Set()));
  const skipped = [...files.keys()].filter((p) => !resolves(p, new Set())).sort();

  const work = mkdtempSync(join(tmpdir(), 'envoy-api-'));
  try {
    for (const path of keep) {
      const to = join(work, 'protos', path);
      mkdirSync(dirname(to), { recursive: true });
      cpSync(files.get(path)!, to);
    }
    patchValidateProto(join(work, 'protos', 'validate', 'validate.proto'));
    writeFileSync(join(work, 'buf.yaml'), 'version: v2\nmodules:\n  - path: protos\n');
    const out = join(work, 'envoy-api.binpb');
    try {
      execFileSync(bufBin, ['build', '-o', out], { cwd: work, timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      throw new Error(`buf build of the Envoy API protos failed: ${e.stderr?.toString() || e.message}`);
    }
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(out)));
    const bootstrap = registry.getMessage(BOOTSTRAP);
    if (!bootstrap) throw new Error(`${BOOTSTRAP} is missing from the Envoy API build`);
    return { registry, bootstrap, fileCount: keep.length, skipped };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Parses YAML the way Envoy needs it: one document, no duplicate keys, JSON-compatible values. */
export function parseEnvoyYaml(text: string): JsonValue {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const problems = [...doc.errors, ...doc.warnings].map((e) => e.message);
  if (problems.length) throw new Error(`envoy YAML does not parse:\n${problems.join('\n')}`);
  return doc.toJS({ maxAliasCount: 100 }) as JsonValue;
}

/**
 * Strict proto3-JSON decode of a config (default: a Bootstrap). Throws on an
 * unknown key, a wrong type, an unknown enum name or an unresolvable `@type`,
 * at any depth including inside every typed_config.
 */
export function decodeEnvoyConfig(schema: EnvoySchema, value: JsonValue, desc: DescMessage = schema.bootstrap): Message {
  return fromJson(desc, value, { registry: schema.registry, ignoreUnknownFields: false });
}

/** The decoded config back as canonical JSON: proto field names, Anys expanded with `@type`. */
export function canonicalJson(schema: EnvoySchema, message: Message, desc: DescMessage = schema.bootstrap): JsonValue {
  return toJson(desc, message, { registry: schema.registry, useProtoFieldName: true });
}

// ---------------------------------------------------------------------------
// protoc-gen-validate rules and deprecation, as Envoy enforces them on load.

type Rules = Record<string, JsonValue>;
type Scalar = string | number | bigint | boolean | Uint8Array;

interface Extensions {
  rules?: DescExtension;
  required?: DescExtension;
  disabled?: DescExtension;
  ignored?: DescExtension;
  disallowedByDefault?: DescExtension;
  rulesDesc?: DescMessage;
}

function extensions(schema: EnvoySchema): Extensions {
  const rules = schema.registry.getExtension('validate.rules');
  return {
    rules,
    required: schema.registry.getExtension('validate.required'),
    disabled: schema.registry.getExtension('validate.disabled'),
    ignored: schema.registry.getExtension('validate.ignored'),
    disallowedByDefault: schema.registry.getExtension('envoy.annotations.disallowed_by_default'),
    rulesDesc: schema.registry.getMessage('validate.FieldRules'),
  };
}

const WRAPPERS: Record<string, string> = {
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
};

const SCALAR_RULE: Partial<Record<ScalarType, string>> = {
  [ScalarType.DOUBLE]: 'double',
  [ScalarType.FLOAT]: 'float',
  [ScalarType.INT64]: 'int64',
  [ScalarType.UINT64]: 'uint64',
  [ScalarType.INT32]: 'int32',
  [ScalarType.UINT32]: 'uint32',
  [ScalarType.SINT32]: 'sint32',
  [ScalarType.SINT64]: 'sint64',
  [ScalarType.FIXED32]: 'fixed32',
  [ScalarType.FIXED64]: 'fixed64',
  [ScalarType.SFIXED32]: 'sfixed32',
  [ScalarType.SFIXED64]: 'sfixed64',
  [ScalarType.BOOL]: 'bool',
  [ScalarType.STRING]: 'string',
  [ScalarType.BYTES]: 'bytes',
};

const isFloatRule = (kind: string) => kind === 'double' || kind === 'float';

function durationNanos(value: JsonValue | ReflectMessage): bigint {
  if (isReflectMessage(value)) {
    const m = value.message as unknown as { seconds: bigint; nanos: number };
    return BigInt(m.seconds) * 1_000_000_000n + BigInt(m.nanos);
  }
  const match = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(String(value));
  if (!match) throw new Error(`bad duration in a validate rule: ${String(value)}`);
  const nanos = BigInt(match[2]) * 1_000_000_000n + BigInt((match[3] ?? '').padEnd(9, '0'));
  return match[1] ? -nanos : nanos;
}

const HEADER_NAME = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
const HEADER_VALUE = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
const LOOSE_HEADER = /^[^\u0000\u000A\u000D]*$/;
const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

class Validator {
  readonly problems: string[] = [];
  private readonly ext: Extensions;

  constructor(private readonly schema: EnvoySchema) {
    this.ext = extensions(schema);
  }

  private fail(path: string, what: string): void {
    this.problems.push(`${path}: ${what}`);
  }

  private fieldRules(field: DescField): Rules | undefined {
    const { rules, rulesDesc } = this.ext;
    if (!rules || !rulesDesc || !hasOption(field, rules)) return undefined;
    const value = getOption(field, rules) as Message;
    return toJson(rulesDesc, value, { useProtoFieldName: true }) as Rules;
  }

  message(m: ReflectMessage, path: string): void {
    const { disabled, ignored, required, disallowedByDefault } = this.ext;
    if (m.desc.typeName === 'google.protobuf.Any') return this.any(m, path);
    const skipRules =
      (disabled && hasOption(m.desc, disabled) && getOption(m.desc, disabled) === true) ||
      (ignored && hasOption(m.desc, ignored) && getOption(m.desc, ignored) === true);

    if (!skipRules && required) {
      for (const oneof of m.oneofs) {
        if (hasOption(oneof, required) && getOption(oneof, required) === true && !m.oneofCase(oneof)) {
          this.fail(path, `one of ${oneof.fields.map((f) => f.name).join(', ')} is required (oneof ${oneof.name})`);
        }
      }
    }
    for (const field of m.fields) {
      const fpath = `${path}.${field.name}`;
      const set = m.isSet(field);
      if (set && field.deprecated) this.fail(fpath, 'is deprecated');
      if (set && disallowedByDefault && hasOption(field, disallowedByDefault) && getOption(field, disallowedByDefault)) {
        this.fail(fpath, 'is disallowed by default');
      }
      const rules = skipRules ? undefined : this.fieldRules(field);
      if (rules) this.applyRules(m, field, rules, fpath);
      if (!set) continue;
      const value = m.get(field);
      if (isReflectMessage(value)) this.message(value, fpath);
      else if (isReflectList(value)) {
        let i = 0;
        for (const item of value) {
          if (isReflectMessage(item)) this.message(item, `${fpath}[${i}]`);
          else if (field.fieldKind === 'list' && field.listKind === 'enum') this.enumValue(field.enum, item as number, `${fpath}[${i}]`);
          i++;
        }
      } else if (isReflectMap(value)) {
        for (const [key, item] of value) {
          if (isReflectMessage(item)) this.message(item, `${fpath}[${String(key)}]`);
        }
      } else if (field.fieldKind === 'enum') this.enumValue(field.enum, value as number, fpath);
    }
  }

  private enumValue(desc: DescEnum, value: number, path: string): void {
    const v = desc.values.find((x) => x.number === value);
    if (v?.deprecated) this.fail(path, `enum value ${v.name} is deprecated`);
  }

  private any(m: ReflectMessage, path: string): void {
    const any = m.message as unknown as Any;
    if (!any.typeUrl) {
      this.fail(path, 'has no @type');
      return;
    }
    const inner = anyUnpack(any, this.schema.registry);
    if (!inner) {
      this.fail(path, `@type ${any.typeUrl} is not a known message`);
      return;
    }
    const desc = this.schema.registry.getMessage(inner.$typeName)!;
    this.message(reflect(desc, inner), `${path}<${inner.$typeName}>`);
  }

  private applyRules(m: ReflectMessage, field: DescField, rules: Rules, path: string): void {
    // A oneof member's rules only apply when it is the member chosen.
    if (field.oneof && m.oneofCase(field.oneof) !== field) return;
    const set = m.isSet(field);
    const msgRules = rules.message as Rules | undefined;
    if (msgRules?.skip === true) return;
    if (msgRules?.required === true && field.fieldKind === 'message' && !set) {
      this.fail(path, 'is required');
      return;
    }
    // Scalars with implicit presence are checked even when left at their zero
    // value (that is how min_len: 1 makes a field required); fields with
    // explicit presence, oneof members and messages only when set.
    const implicit = field.presence === FeatureSet_FieldPresence.IMPLICIT && !field.oneof;
    const [kind, body] = Object.entries(rules).find(([k]) => k !== 'message') ?? [];
    if (!kind || body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) return;
    const r = body as Rules;

    if (field.fieldKind === 'list') {
      if (kind !== 'repeated') return;
      const list = m.get(field) as Iterable<unknown> & { size: number };
      this.sizeRules(list.size, r, 'min_items', 'max_items', path);
      if (r.unique === true) {
        const seen = new Set<string>();
        for (const item of list) {
          const k = isReflectMessage(item) ? JSON.stringify(toJson(item.desc, item.message)) : String(item);
          if (seen.has(k)) this.fail(path, `items must be unique (${k} repeats)`);
          seen.add(k);
        }
      }
      const items = r.items as Rules | undefined;
      if (items) {
        let i = 0;
        for (const item of list) this.valueRules(items, field.listKind === 'enum' ? field.enum : undefined, field.scalar, item, `${path}[${i++}]`);
      }
      return;
    }
    if (field.fieldKind === 'map') {
      if (kind !== 'map') return;
      const map = m.get(field) as ReadonlyMap<unknown, unknown>;
      if (r.ignore_empty === true && map.size === 0) return;
      this.sizeRules(map.size, r, 'min_pairs', 'max_pairs', path);
      const keys = r.keys as Rules | undefined;
      const values = r.values as Rules | undefined;
      for (const [key, value] of map) {
        if (keys) this.valueRules(keys, undefined, field.mapKey, key, `${path}[${String(key)}]#key`);
        if (values) this.valueRules(values, field.mapKind === 'enum' ? field.enum : undefined, field.mapKind === 'scalar' ? field.scalar : undefined, value, `${path}[${String(key)}]`);
      }
      return;
    }
    if (!set && !(implicit && field.fieldKind !== 'message')) return;
    this.valueRules(rules, field.fieldKind === 'enum' ? field.enum : undefined, field.fieldKind === 'scalar' ? field.scalar : undefined, m.get(field), path);
  }

  private sizeRules(size: number, r: Rules, minKey: string, maxKey: string, path: string): void {
    if (r[minKey] !== undefined && size < Number(r[minKey])) this.fail(path, `needs at least ${String(r[minKey])} entries, has ${size}`);
    if (r[maxKey] !== undefined && size > Number(r[maxKey])) this.fail(path, `allows at most ${String(r[maxKey])} entries, has ${size}`);
  }

  /** Applies one FieldRules (string, uint32, enum, duration, any, message...) to one value. */
  private valueRules(rules: Rules, enumDesc: DescEnum | undefined, scalar: ScalarType | undefined, value: unknown, path: string): void {
    const msgRules = rules.message as Rules | undefined;
    if (msgRules?.skip === true) return;
    for (const [kind, body] of Object.entries(rules)) {
      if (kind === 'message' || body === null || typeof body !== 'object' || Array.isArray(body)) continue;
      const r = body as Rules;
      if (isReflectMessage(value)) {
        const typeName = value.desc.typeName;
        if (kind === 'duration' && typeName === 'google.protobuf.Duration') this.durationRules(r, value, path);
        else if (kind === 'any' && typeName === 'google.protobuf.Any') this.anyRules(r, value, path);
        else if (WRAPPERS[typeName] === kind) {
          const inner = value.desc.fields[0];
          this.scalarRules(kind, r, value.get(inner) as Scalar, path);
        }
        continue;
      }
      if (kind === 'enum' && enumDesc) this.enumRules(r, enumDesc, value as number, path);
      else if (scalar !== undefined && SCALAR_RULE[scalar] === kind) this.scalarRules(kind, r, value as Scalar, path);
    }
  }

  private enumRules(r: Rules, desc: DescEnum, value: number, path: string): void {
    if (r.defined_only === true && !desc.values.some((v) => v.number === value)) this.fail(path, `${value} is not a value of ${desc.typeName}`);
    if (r.const !== undefined && enumNumber(desc, r.const) !== value) this.fail(path, `must be ${String(r.const)}`);
    if (Array.isArray(r.in) && !r.in.some((x) => enumNumber(desc, x) === value)) this.fail(path, `must be one of ${r.in.join(', ')}`);
    if (Array.isArray(r.not_in) && r.not_in.some((x) => enumNumber(desc, x) === value)) this.fail(path, `must not be one of ${r.not_in.join(', ')}`);
  }

  private durationRules(r: Rules, value: ReflectMessage, path: string): void {
    const nanos = durationNanos(value);
    const shown = `${Number(nanos) / 1e9}s`;
    if (r.const !== undefined && nanos !== durationNanos(r.const)) this.fail(path, `must be ${String(r.const)}`);
    if (r.lt !== undefined && !(nanos < durationNanos(r.lt))) this.fail(path, `${shown} must be < ${String(r.lt)}`);
    if (r.lte !== undefined && !(nanos <= durationNanos(r.lte))) this.fail(path, `${shown} must be <= ${String(r.lte)}`);
    if (r.gt !== undefined && !(nanos > durationNanos(r.gt))) this.fail(path, `${shown} must be > ${String(r.gt)}`);
    if (r.gte !== undefined && !(nanos >= durationNanos(r.gte))) this.fail(path, `${shown} must be >= ${String(r.gte)}`);
    if (Array.isArray(r.in) && !r.in.some((x) => durationNanos(x) === nanos)) this.fail(path, `must be one of ${r.in.join(', ')}`);
    if (Array.isArray(r.not_in) && r.not_in.some((x) => durationNanos(x) === nanos)) this.fail(path, `must not be one of ${r.not_in.join(', ')}`);
  }

  private anyRules(r: Rules, value: ReflectMessage, path: string): void {
    const typeUrl = (value.message as unknown as Any).typeUrl;
    if (Array.isArray(r.in) && !r.in.includes(typeUrl)) this.fail(path, `@type must be one of ${r.in.join(', ')}, got ${typeUrl}`);
    if (Array.isArray(r.not_in) && r.not_in.includes(typeUrl)) this.fail(path, `@type must not be ${typeUrl}`);
  }

  private scalarRules(kind: string, r: Rules, value: Scalar, path: string): void {
    if (kind === 'string') return this.stringRules(r, value as string, path);
    if (kind === 'bytes') {
      const bytes = value as Uint8Array;
      if (r.ignore_empty === true && bytes.length === 0) return;
      if (r.min_len !== undefined && bytes.length < Number(r.min_len)) this.fail(path, `needs at least ${String(r.min_len)} bytes`);
      if (r.max_len !== undefined && bytes.length > Number(r.max_len)) this.fail(path, `allows at most ${String(r.max_len)} bytes`);
      return;
    }
    if (kind === 'bool') {
      if (r.const !== undefined && value !== r.const) this.fail(path, `must be ${String(r.const)}`);
      return;
    }
    // Numbers: integers compare as bigint (64-bit safe), floats as numbers.
    const num = (x: JsonValue | Scalar): number | bigint => (isFloatRule(kind) ? Number(x) : BigInt(x as string | number | bigint));
    const v = num(value);
    if (r.ignore_empty === true && Number(v) === 0) return;
    if (r.const !== undefined && v !== num(r.const)) this.fail(path, `must be ${String(r.const)}, got ${String(value)}`);
    const lt = r.lt !== undefined ? num(r.lt) : undefined;
    const lte = r.lte !== undefined ? num(r.lte) : undefined;
    const gt = r.gt !== undefined ? num(r.gt) : undefined;
    const gte = r.gte !== undefined ? num(r.gte) : undefined;
    const upper = lt !== undefined ? v < lt : lte !== undefined ? v <= lte : true;
    const lower = gt !== undefined ? v > gt : gte !== undefined ? v >= gte : true;
    // PGV: when the lower bound exceeds the upper one, the range is exclusive (outside).
    const lowBound = gt ?? gte;
    const highBound = lt ?? lte;
    const exclusive = lowBound !== undefined && highBound !== undefined && lowBound > highBound;
    if (exclusive ? !(upper || lower) : !(upper && lower)) {
      const bounds = [
        gt !== undefined && `> ${String(gt)}`,
        gte !== undefined && `>= ${String(gte)}`,
        lt !== undefined && `< ${String(lt)}`,
        lte !== undefined && `<= ${String(lte)}`,
      ].filter(Boolean);
      this.fail(path, `${String(value)} must be ${bounds.join(exclusive ? ' or ' : ' and ')}`);
    }
    if (Array.isArray(r.in) && !r.in.some((x) => num(x) === v)) this.fail(path, `must be one of ${r.in.join(', ')}`);
    if (Array.isArray(r.not_in) && r.not_in.some((x) => num(x) === v)) this.fail(path, `must not be one of ${r.not_in.join(', ')}`);
  }

  private stringRules(r: Rules, s: string, path: string): void {
    if (r.ignore_empty === true && s === '') return;
    const chars = [...s].length;
    const bytes = Buffer.byteLength(s);
    const shown = JSON.stringify(s);
    if (r.const !== undefined && s !== r.const) this.fail(path, `must be ${JSON.stringify(r.const)}, got ${shown}`);
    if (r.len !== undefined && chars !== Number(r.len)) this.fail(path, `must be ${String(r.len)} characters`);
    if (r.min_len !== undefined && chars < Number(r.min_len)) this.fail(path, `needs at least ${String(r.min_len)} characters, got ${shown}`);
    if (r.max_len !== undefined && chars > Number(r.max_len)) this.fail(path, `allows at most ${String(r.max_len)} characters`);
    if (r.min_bytes !== undefined && bytes < Number(r.min_bytes)) this.fail(path, `needs at least ${String(r.min_bytes)} bytes, got ${shown}`);
    if (r.max_bytes !== undefined && bytes > Number(r.max_bytes)) this.fail(path, `allows at most ${String(r.max_bytes)} bytes`);
    if (typeof r.prefix === 'string' && !s.startsWith(r.prefix)) this.fail(path, `must start with ${r.prefix}`);
    if (typeof r.suffix === 'string' && !s.endsWith(r.suffix)) this.fail(path, `must end with ${r.suffix}`);
    if (typeof r.contains === 'string' && !s.includes(r.contains)) this.fail(path, `must contain ${r.contains}`);
    if (typeof r.not_contains === 'string' && s.includes(r.not_contains)) this.fail(path, `must not contain ${r.not_contains}`);
    if (Array.isArray(r.in) && !r.in.includes(s)) this.fail(path, `must be one of ${r.in.join(', ')}, got ${shown}`);
    if (Array.isArray(r.not_in) && r.not_in.includes(s)) this.fail(path, `must not be ${shown}`);
    if (typeof r.pattern === 'string') {
      // RE2 and JavaScript agree on the patterns Envoy's API uses; a pattern JS
      // cannot compile is left to Envoy rather than guessed at.
      let re: RegExp | undefined;
      try {
        re = new RegExp(r.pattern, 'u');
      } catch {
        re = undefined;
      }
      if (re && !re.test(s)) this.fail(path, `must match /${r.pattern}/, got ${shown}`);
    }
    const strict = r.strict !== false;
    if (r.well_known_regex === 'HTTP_HEADER_NAME' && !(strict ? HEADER_NAME : LOOSE_HEADER).test(s)) this.fail(path, `${shown} is not an HTTP header name`);
    if (r.well_known_regex === 'HTTP_HEADER_VALUE' && !(strict ? HEADER_VALUE : LOOSE_HEADER).test(s)) this.fail(path, `${shown} is not an HTTP header value`);
    if (r.hostname === true && !HOSTNAME.test(s)) this.fail(path, `${shown} is not a hostname`);
    if (r.ip === true && isIP(s) === 0) this.fail(path, `${shown} is not an IP address`);
    if (r.ipv4 === true && isIP(s) !== 4) this.fail(path, `${shown} is not an IPv4 address`);
    if (r.ipv6 === true && isIP(s) !== 6) this.fail(path, `${shown} is not an IPv6 address`);
    if (r.address === true && isIP(s) === 0 && !HOSTNAME.test(s)) this.fail(path, `${shown} is neither a hostname nor an IP address`);
    if (r.uuid === true && !UUID.test(s)) this.fail(path, `${shown} is not a UUID`);
    if (r.uri === true) {
      try {
        new URL(s);
      } catch {
        this.fail(path, `${shown} is not an absolute URI`);
      }
    }
  }
}

function enumNumber(desc: DescEnum, x: JsonValue): number | undefined {
  if (typeof x === 'number') return x;
  return desc.values.find((v) => v.name === x)?.number;
}

/**
 * Every protoc-gen-validate rule and deprecation the decoded config breaks,
 * as "path: problem" lines (empty when the config is valid).
 */
export function validateEnvoyConfig(schema: EnvoySchema, message: Message, desc: DescMessage = schema.bootstrap): string[] {
  const v = new Validator(schema);
  v.message(reflect(desc, message), desc.name);
  return v.problems;
}

/** Collects the message type of every Any in a decoded config (typed_config and friends). */
export function anyTypesIn(schema: EnvoySchema, message: Message, desc: DescMessage = schema.bootstrap): string[] {
  const found: string[] = [];
  const visit = (m: ReflectMessage): void => {
    if (m.desc.typeName === 'google.protobuf.Any') {
      const inner = anyUnpack(m.message as unknown as Any, schema.registry);
      if (inner) {
        found.push(inner.$typeName);
        visit(reflect(schema.registry.getMessage(inner.$typeName)!, inner));
      }
      return;
    }
    for (const field of m.fields) {
      if (!m.isSet(field)) continue;
      const value = m.get(field);
      if (isReflectMessage(value)) visit(value);
      else if (isReflectList(value) || isReflectMap(value)) {
        for (const item of isReflectMap(value) ? value.values() : value) if (isReflectMessage(item)) visit(item);
      }
    }
  };
  visit(reflect(desc, message));
  return found;
}

// ---------------------------------------------------------------------------
// The deployment recipes Envoy runs in (Dockerfile, docker-compose.yml).

export interface DockerStage {
  name: string;
  from: string;
  /** Instructions after FROM, continuation lines joined, comments dropped. */
  instructions: string[];
}

/** Splits a Dockerfile into its stages (enough for FROM/COPY/RUN/USER/CMD checks). */
export function dockerfileStages(text: string): DockerStage[] {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) stages.push({ from: from[1], name: from[2] ?? String(stages.length), instructions: [] });
    else if (stages.length) stages[stages.length - 1].instructions.push(line);
  }
  return stages;
}

/** A compose volume in short ("src:dst[:mode]") or long ({source, target}) syntax. */
export function composeVolume(v: unknown): { source: string; target: string } {
  if (typeof v === 'string') {
    const [source, target] = v.split(':');
    return { source, target: target ?? source };
  }
  const o = v as { source?: string; target: string };
  return { source: o.source ?? '', target: o.target };
}

// Field paths ("a.b.c") as http rules, path variables and query parameters
// name them. Each step may use the proto name or the JSON name: proto3 JSON
// parsers must accept both, and Envoy's transcoder looks up either.
import type { DescField, DescMessage } from '@bufbuild/protobuf';

export function findField(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((f) => f.name === name) ?? message.fields.find((f) => f.jsonName === name);
}

/**
 * Resolves a path to the fields it walks through, or undefined. Every step
 * but the last must be a singular message field: one cannot address "inside"
 * a list or a map from a URL.
 */
export function resolveFieldPath(message: DescMessage, path: readonly string[]): DescField[] | undefined {
  const fields: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const name of path) {
    if (!current) return undefined;
    const field = findField(current, name);
    if (!field) return undefined;
    fields.push(field);
    current = field.fieldKind === 'message' ? field.message : undefined;
  }
  return fields.length ? fields : undefined;
}

/** A field a URL can carry: a scalar or enum, singular or repeated (never a map or message). */
export const isPrimitive = (field: DescField) =>
  field.fieldKind === 'scalar' || field.fieldKind === 'enum' || (field.fieldKind === 'list' && field.listKind !== 'message');

export const describePath = (fields: DescField[]) => fields.map((f) => f.name).join('.');

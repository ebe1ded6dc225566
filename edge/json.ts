// Envoy's print_options are protobuf's JsonPrintOptions; these are their
// @bufbuild/protobuf equivalents, shared by responses and error bodies so
// both read the same way.
import type { JsonValue, JsonWriteOptions, Registry } from '@bufbuild/protobuf';
import type { PrintOptions } from './envoy-options';

export function jsonWriteOptions(print: PrintOptions, registry: Registry): JsonWriteOptions {
  return {
    // always_print_primitive_fields: scalars, enums, lists and maps at their defaults
    alwaysEmitImplicit: print.alwaysPrintPrimitiveFields,
    enumAsInteger: print.alwaysPrintEnumsAsInts,
    useProtoFieldName: print.preserveProtoFieldNames,
    // resolves google.protobuf.Any (error details) through the descriptor set
    registry,
  };
}

/** add_whitespace: indented output (protobuf indents by two spaces too). */
export const stringifyJson = (value: JsonValue, print: PrintOptions): string =>
  print.addWhitespace ? JSON.stringify(value, null, 2) : JSON.stringify(value);

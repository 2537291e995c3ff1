// Edited approval parameters, checked before they are sent (the server checks
// them again): the parts of JSON Schema the tools' schemas use.

/** A small JSON Schema check (types, required, properties) for edited parameters. */
export function validate(value: unknown, schema: any, at = "params"): string[] {
  const problems: string[] = [];
  if (!schema || typeof schema !== "object") return problems;
  const type = schema.type;
  const actual = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  const types: string[] = Array.isArray(type) ? type : type ? [type] : [];
  const matches = (t: string) => t === actual || (t === "integer" && typeof value === "number" && Number.isInteger(value)) || (t === "number" && typeof value === "number");
  if (types.length > 0 && !types.some(matches)) {
    problems.push(`${at} should be ${types.join(" or ")}`);
    return problems;
  }
  if (schema.enum && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(value))) problems.push(`${at} should be one of ${JSON.stringify(schema.enum)}`);
  if (actual === "object" && value) {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) problems.push(`${at}.${r} is required`);
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties?.[k];
      if (sub) problems.push(...validate(v, sub, `${at}.${k}`));
      else if (schema.additionalProperties === false) problems.push(`${at}.${k} is not allowed`);
    }
  }
  if (actual === "array" && schema.items) (value as unknown[]).forEach((v, i) => problems.push(...validate(v, schema.items, `${at}[${i}]`)));
  return problems;
}


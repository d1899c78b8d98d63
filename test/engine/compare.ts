// Compares a manifest with the object the API server holds: every field the manifest sets must be there
// with the same value. The server may add fields (defaults, status, metadata); it may not drop or change
// one. A Secret's `stringData` is compared with the server's base64 `data`, as the server stores it.

function normalize(manifest: Record<string, any>): Record<string, any> {
  if (manifest.kind !== "Secret" || manifest.stringData === undefined) return manifest;
  const { stringData, ...rest } = manifest;
  const data = Object.fromEntries(Object.entries(stringData as Record<string, string>).map(([key, value]) => [key, Buffer.from(value).toString("base64")]));
  return { ...rest, data: { ...rest.data, ...data } };
}

function walk(expected: unknown, actual: unknown, path: string, out: string[]): void {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      out.push(`${path}: expected ${expected.length} items, the server has ${JSON.stringify(actual)}`);
      return;
    }
    expected.forEach((item, i) => walk(item, actual[i], `${path}[${i}]`, out));
    return;
  }
  if (typeof expected === "object" && expected !== null) {
    if (typeof actual !== "object" || actual === null) {
      out.push(`${path}: expected an object, the server has ${JSON.stringify(actual)}`);
      return;
    }
    for (const [key, value] of Object.entries(expected)) walk(value, (actual as Record<string, unknown>)[key], path ? `${path}.${key}` : key, out);
    return;
  }
  if (expected !== actual) out.push(`${path}: expected ${JSON.stringify(expected)}, the server has ${JSON.stringify(actual)}`);
}

/** One line per field of `manifest` that `actual` lacks or holds with another value. */
export function differences(manifest: Record<string, any>, actual: Record<string, any>): string[] {
  const out: string[] = [];
  walk(normalize(manifest), actual, "", out);
  return out;
}

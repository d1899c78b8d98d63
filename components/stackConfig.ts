// Reads the stack's `crdstack:*` configuration through Pulumi and validates it.
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, StackConfig } from "../model/config";

const NAMESPACE = "crdstack:";
/** Keys whose values are YAML/JSON (booleans, lists) rather than plain strings. */
const STRUCTURED = new Set(["installCrds", "namespaces", "operator"]);

export function readStackConfig(): StackConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (!key.startsWith(NAMESPACE)) continue;
    const name = key.slice(NAMESPACE.length);
    raw[name] = STRUCTURED.has(name) ? parseStructured(value) : value;
  }
  return parseStackConfig(raw);
}

function parseStructured(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

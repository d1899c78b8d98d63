// The CustomResourceDefinitions, generated from the same zod schemas that validate specs, then made
// structural (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema)
// so that Kubernetes 1.20 accepts them as well as current versions.
import { z } from "zod";
import { Manifest } from "../builders/meta";
import { EasyServiceSpec, EASY_SERVICE } from "./easyService";
import { Kind, KINDS } from "./objects";
import { EasyServiceStatus, TrackingServerStatus } from "./status";
import { TrackingServerSpec, TRACKING_SERVER } from "./trackingServer";

type JsonSchema = { [key: string]: unknown };

const SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

function isEmpty(schema: unknown): boolean {
  return typeof schema === "object" && schema !== null && Object.keys(schema).length === 0;
}

function isIntOrString(options: unknown[]): boolean {
  const types = options.map((option) => (option as JsonSchema).type);
  return types.length === 2 && types.includes("string") && (types.includes("integer") || types.includes("number"));
}

/**
 * Rewrites zod's OpenAPI 3.0 output into a structural schema: int-or-string unions become
 * `x-kubernetes-int-or-string`, and what structural schemas forbid or 1.20 does not know goes
 * (`additionalProperties: false`, `propertyNames`, the safe-integer bounds zod adds).
 */
export function structural(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(structural);
  if (typeof schema !== "object" || schema === null) return schema;
  const source = schema as JsonSchema;
  const union = (source.anyOf ?? source.oneOf) as unknown[] | undefined;
  if (union !== undefined && isIntOrString(union)) {
    const out: JsonSchema = { "x-kubernetes-int-or-string": true };
    if (source.description !== undefined) out.description = source.description;
    return out;
  }
  // A map of anything (`z.record(z.string(), z.unknown())`) is kept as it is.
  if (source.type === "object" && isEmpty(source.additionalProperties) && source.properties === undefined) {
    return { type: "object", "x-kubernetes-preserve-unknown-fields": true, ...(source.description === undefined ? {} : { description: source.description }) };
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === "$schema" || key === "propertyNames") continue;
    if (key === "additionalProperties" && value === false) continue;
    if ((key === "maximum" && value === SAFE_INTEGER) || (key === "minimum" && value === -SAFE_INTEGER)) continue;
    out[key] = structural(value);
  }
  return out;
}

export function openApiSchema(schema: z.ZodType): JsonSchema {
  return structural(z.toJSONSchema(schema, { target: "openapi-3.0", io: "input", unrepresentable: "any" })) as JsonSchema;
}

const READY = { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' };
const AGE = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

const DEFINITIONS = {
  TrackingServer: {
    names: TRACKING_SERVER,
    spec: TrackingServerSpec,
    status: TrackingServerStatus,
    columns: [
      { name: "S3_ENDPOINT_URL", type: "string", jsonPath: ".spec.s3_endpoint_url" },
      { name: "ARTIFACT_ROOT", type: "string", jsonPath: ".spec.artifact_root" },
      { name: "URL", type: "string", jsonPath: ".status.url" },
      READY,
      AGE,
    ],
  },
  EasyService: {
    names: EASY_SERVICE,
    spec: EasyServiceSpec,
    status: EasyServiceStatus,
    columns: [
      { name: "Image", type: "string", jsonPath: ".spec.image" },
      { name: "Size", type: "integer", jsonPath: ".spec.size" },
      { name: "Available", type: "integer", jsonPath: ".status.availableReplicas" },
      READY,
      AGE,
    ],
  },
} as const;

export function crdName(kind: Kind): string {
  return `${KINDS[kind].plural}.${KINDS[kind].group}`;
}

export function crdManifest(kind: Kind): Manifest {
  const { names, spec, status, columns } = DEFINITIONS[kind];
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: crdName(kind), labels: { "app.kubernetes.io/managed-by": "crdstack" } },
    spec: {
      group: names.group,
      scope: "Namespaced",
      names: { kind: names.kind, listKind: `${names.kind}List`, plural: names.plural, singular: names.singular, shortNames: [...names.shortNames] },
      versions: [
        {
          name: names.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: columns,
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: `${names.kind} (${names.group}/${names.version})`,
              required: ["spec"],
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: openApiSchema(spec),
                status: openApiSchema(status),
              },
            },
          },
        },
      ],
    },
  };
}

export function crdManifests(): Manifest[] {
  return [crdManifest("TrackingServer"), crdManifest("EasyService")];
}

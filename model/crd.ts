// The CustomResourceDefinitions, generated from the same zod schemas that validate specs, then made
// structural (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema)
// as the API server requires.
//
// The rules between fields (model/rules.ts) come with the schemas as `x-kubernetes-validations`, CEL rules
// the API server checks at admission. Versions before 1.25 drop them (1.23 and 1.24 unless their feature
// gate is on); the requests-within-limits rules call CEL's quantity functions, which an API server compiles
// in new rules from 1.29 on: 1.25 to 1.28 refuse these CRDs.
import { z } from "zod";
import { Manifest } from "../builders/meta";
import { EasyServiceSpec, EASY_SERVICE } from "./easyService";
import { Kind, KINDS, ObjectMeta, SECRET_FIELDS } from "./objects";
import { EasyServiceStatus, TrackingServerStatus } from "./status";
import { TrackingServerSpec, TRACKING_SERVER, TRACKING_SERVER_STRING_FIELDS } from "./trackingServer";

type JsonSchema = { [key: string]: unknown };

const SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

function isEmpty(schema: unknown): boolean {
  return typeof schema === "object" && schema !== null && Object.keys(schema).length === 0;
}

function isIntOrString(options: unknown[]): boolean {
  const types = options.map((option) => (option as JsonSchema).type);
  return types.length === 2 && types.includes("string") && (types.includes("integer") || types.includes("number"));
}

/** What an int-or-string's branches check: in the CRD, bounds apply to its numbers only, string checks to its strings only. */
const BRANCH_CHECKS = ["minimum", "maximum", "pattern", "minLength", "maxLength"];

function branchChecks(options: unknown[]): JsonSchema {
  const checks = options.flatMap((option) => Object.entries(option as JsonSchema).filter(([key]) => BRANCH_CHECKS.includes(key)));
  return Object.fromEntries(checks.filter(([key, value]) => !((key === "maximum" && value === SAFE_INTEGER) || (key === "minimum" && value === -SAFE_INTEGER))));
}

/**
 * Rewrites zod's OpenAPI 3.0 output into a structural schema: int-or-string unions become
 * `x-kubernetes-int-or-string` with their branches' checks, and what structural schemas forbid goes
 * (`additionalProperties: false`, `propertyNames`, the safe-integer bounds zod adds).
 */
export function structural(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(structural);
  if (typeof schema !== "object" || schema === null) return schema;
  const source = schema as JsonSchema;
  const union = (source.anyOf ?? source.oneOf) as unknown[] | undefined;
  if (union !== undefined && isIntOrString(union)) {
    const out: JsonSchema = { "x-kubernetes-int-or-string": true, ...branchChecks(union) };
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

/**
 * A TrackingServer's spec schema in which every string field also accepts `""`, which means unset (see
 * `parseObject`): objects made for the original controller, whose CRD required every field, carry it.
 */
function emptyMeansUnset(schema: JsonSchema): JsonSchema {
  const properties = schema.properties as Record<string, JsonSchema>;
  const accepting = Object.fromEntries(Object.entries(properties).map(([name, property]) =>
    [name, TRACKING_SERVER_STRING_FIELDS.includes(name) && typeof property.pattern === "string" ? { ...property, pattern: `^$|(?:${property.pattern})` } : property]));
  return { ...schema, properties: accepting };
}

/**
 * A schema in which the secret `fields` check their pattern in a CEL rule: the API server quotes the value
 * of a string that fails a `pattern`, and shows only the type of one that fails a rule.
 */
function secretPatternsAsRules(schema: JsonSchema, fields: readonly string[]): JsonSchema {
  const properties = schema.properties as Record<string, JsonSchema>;
  const hidden = Object.fromEntries(Object.entries(properties).map(([name, property]) => {
    if (!fields.includes(name) || typeof property.pattern !== "string") return [name, property];
    const { pattern, ...rest } = property;
    const rule = { rule: `self.matches(${JSON.stringify(pattern)})`, message: `must match ${pattern} (the value is secret: the API server does not show it)` };
    return [name, { ...rest, "x-kubernetes-validations": [...((rest["x-kubernetes-validations"] as unknown[]) ?? []), rule] }];
  }));
  return { ...schema, properties: hidden };
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
                // A CRD may restrict metadata.name (and generateName), nothing else of metadata.
                metadata: { type: "object", properties: { name: openApiSchema(ObjectMeta.shape.name) } },
                spec: secretPatternsAsRules(kind === "TrackingServer" ? emptyMeansUnset(openApiSchema(spec)) : openApiSchema(spec), SECRET_FIELDS[kind]),
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

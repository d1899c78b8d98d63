// A custom-resource object as read from a file or the cluster, parsed per object: a valid object becomes
// a typed spec, an invalid one a list of problems that name the field path and quote the bad value.
import { z } from "zod";
import { annotations, DNS_1035_LABEL, DNS_LABEL, issueMessage, labels, matching, quote } from "./common";
import { EASY_SERVICE, EasyServiceSpec } from "./easyService";
import { TRACKING_SERVER, TRACKING_SERVER_APP, TRACKING_SERVER_STRING_FIELDS, TrackingServerSpec } from "./trackingServer";

export const KINDS = { TrackingServer: TRACKING_SERVER, EasyService: EASY_SERVICE } as const;
export type Kind = keyof typeof KINDS;

/** Spec fields that hold credentials or keys: Pulumi secrets in the program, masked by `render`. */
export const SECRET_FIELDS: Record<Kind, readonly string[]> = {
  TrackingServer: ["aws_access_key", "aws_secret_key", "backend_uri", "key"],
  EasyService: [],
};

/** What secret values read as wherever the program shows a spec (render, status). */
export const MASK = "(secret)";

/** `spec` with the kind's secret fields replaced by `(secret)`. */
export function maskSpec(kind: Kind, spec: object): Record<string, unknown> {
  const masked: Record<string, unknown> = { ...spec };
  for (const field of SECRET_FIELDS[kind]) if (masked[field] !== undefined) masked[field] = MASK;
  return masked;
}

export function apiVersionOf(kind: Kind): string {
  return `${KINDS[kind].group}/${KINDS[kind].version}`;
}

/** The object metadata the program reads; anything else the API server adds is kept as is. */
export const ObjectMeta = z.looseObject({
  // Children are named after the object and a Service name must be a DNS-1035 label.
  name: matching(DNS_1035_LABEL, "a DNS-1035 label (lowercase letters, digits and '-', starting with a letter)", 63),
  namespace: matching(DNS_LABEL, "a namespace name (a DNS label)", 63).default("default"),
  labels: labels.optional(),
  annotations: annotations.optional(),
  uid: z.string().optional(),
  generation: z.number().optional(),
  creationTimestamp: z.string().optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;

function envelope<S extends z.ZodType>(spec: S) {
  return z.strictObject({
    apiVersion: z.string(),
    kind: z.string(),
    metadata: ObjectMeta,
    spec,
    // Written by the program, never read as input.
    status: z.unknown().optional(),
  }, { error: (issue) => (issue.code === "unrecognized_keys" ? "is not a known field (known: apiVersion, kind, metadata, spec, status)" : undefined) });
}

const ENVELOPES = { TrackingServer: envelope(TrackingServerSpec), EasyService: envelope(EasyServiceSpec) };

export interface TrackingServerObject { kind: "TrackingServer"; metadata: ObjectMeta; spec: TrackingServerSpec }
export interface EasyServiceObject { kind: "EasyService"; metadata: ObjectMeta; spec: EasyServiceSpec }
export type CustomObject = TrackingServerObject | EasyServiceObject;

/** Which object a problem is about, as far as it could be read. */
export interface ObjectRef { kind: string; namespace: string; name: string }
/**
 * One thing wrong with an object, at a field path. `reason` (CamelCase) names what kind of trouble it is
 * when it is not the spec itself (e.g. `Collision`: a child's name is taken in the cluster); it becomes
 * the reason of the object's Ready condition. Unset: `InvalidSpec`.
 */
export interface Problem { path: string; message: string; reason?: string }

export type Parsed =
  | { ok: true; ref: ObjectRef; object: CustomObject }
  | { ok: false; ref: ObjectRef; problems: Problem[] };

/** `["spec", "ports", 1, "nodePort"]` → `spec.ports[1].nodePort`; odd keys are quoted. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === "number") return `${text}[${key}]`;
    const name = String(key);
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return text === "" ? name : `${text}.${name}`;
    return `${text}[${JSON.stringify(name)}]`;
  }, "");
}

/**
 * A problem's message; on a secret field, the value it quotes reads `(secret)`: problem lines reach logs,
 * statuses and pull-request comments.
 */
function messageOf(issue: z.core.$ZodIssue, kind: Kind): string {
  const secret = issue.path[0] === "spec" && SECRET_FIELDS[kind].includes(String(issue.path[1]));
  if (!secret || issue.input === undefined) return issue.message;
  return issue.message.split(quote(issue.input)).join(MASK);
}

function problemsOf(error: z.ZodError, kind: Kind): Problem[] {
  return error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: issue.message }))
      : [{ path: formatPath(issue.path), message: messageOf(issue, kind) }],
  );
}

function refOf(raw: Record<string, unknown>): ObjectRef {
  const metadata = (typeof raw.metadata === "object" && raw.metadata !== null ? raw.metadata : {}) as Record<string, unknown>;
  const text = (value: unknown, fallback: string) => (typeof value === "string" && value !== "" ? value : fallback);
  return { kind: text(raw.kind, "object"), namespace: text(metadata.namespace, "default"), name: text(metadata.name, "(unnamed)") };
}

/**
 * A TrackingServer's spec without its `""` string fields: the original controller read `""` as unset, and
 * its first CRD made every field required, so objects made for it carry `url: ""`, `cert: ""`, ….
 */
function withoutEmptyFields(kind: Kind, record: Record<string, unknown>): Record<string, unknown> {
  const spec = record.spec;
  if (kind !== "TrackingServer" || typeof spec !== "object" || spec === null || Array.isArray(spec)) return record;
  return { ...record, spec: Object.fromEntries(Object.entries(spec).filter(([field, value]) => value !== "" || !TRACKING_SERVER_STRING_FIELDS.includes(field))) };
}

/** Parses one object of either kind; never throws. */
export function parseObject(raw: unknown): Parsed {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, ref: { kind: "object", namespace: "default", name: "(unnamed)" }, problems: [{ path: "(document)", message: `${quote(raw)} is not an object` }] };
  }
  const record = raw as Record<string, unknown>;
  const ref = refOf(record);
  const kind = record.kind;
  if (kind !== "TrackingServer" && kind !== "EasyService") {
    const known = (Object.keys(KINDS) as Kind[]).map((k) => `${k} (${apiVersionOf(k)})`).join(" or ");
    return { ok: false, ref, problems: [{ path: "kind", message: `${quote(kind)} is not ${known}` }] };
  }
  if (record.apiVersion !== apiVersionOf(kind)) {
    return { ok: false, ref, problems: [{ path: "apiVersion", message: `${quote(record.apiVersion)} is not ${apiVersionOf(kind)}` }] };
  }
  const result = ENVELOPES[kind].safeParse(withoutEmptyFields(kind, record), { reportInput: true, error: issueMessage });
  if (!result.success) return { ok: false, ref, problems: problemsOf(result.error, kind) };
  const { metadata, spec } = result.data;
  if (kind === "EasyService" && metadata.name === TRACKING_SERVER_APP) {
    const message = `${quote(metadata.name)} would select the pods of the namespace's TrackingServers, which carry the label app: ${TRACKING_SERVER_APP}`;
    return { ok: false, ref, problems: [{ path: "metadata.name", message }] };
  }
  return { ok: true, ref: { kind, namespace: metadata.namespace, name: metadata.name }, object: { kind, metadata, spec } as CustomObject };
}

// The spec last applied for an object, read back from its status (`status.lastAppliedSpec`). Whoever may
// write the status may write anything there, so it is parsed with the kind's schema, like a current spec,
// before anything is declared from it; one that does not parse counts as none.
import { z } from "zod";
import { issueMessage } from "./common";
import { EasyServiceSpec } from "./easyService";
import { CustomObject, formatPath, Kind, MASK, ObjectMeta, ObjectRef, Problem, SECRET_FIELDS } from "./objects";
import { TRACKING_SERVER_APP, TrackingServerSpec } from "./trackingServer";

/** The reason of a problem with the last applied spec (it does not parse, or fails the checks against the cluster). */
export const INVALID_LAST_APPLIED_SPEC = "InvalidLastAppliedSpec";

/** Where the last applied spec is, in problems: `spec.x` of the last applied spec is `status.lastAppliedSpec.x`. */
export const LAST_APPLIED_PATH = "status.lastAppliedSpec";

/**
 * What a masked secret field stands for in the rules between fields: a value that passes each of them,
 * since they held when the spec was applied. Several replicas need a database server in `backend_uri`;
 * the others (`key` is checked against `cert` only when it parses) take `(secret)` as it is.
 */
const STAND_INS: Record<string, string> = { backend_uri: "postgresql://(secret)" };

/** A secret field of a last applied spec: always masked by the status (maskSpec), so exactly `(secret)`. */
const masked = (field: string) =>
  z.literal(MASK, { error: () => `must read ${MASK}: the status never holds a secret value` }).transform(() => STAND_INS[field] ?? MASK).optional();

const maskedFields = (kind: Kind) => Object.fromEntries(SECRET_FIELDS[kind].map((field) => [field, masked(field)]));

/** Each kind's spec schema, its secret fields taking `(secret)` instead of a value; the rules between fields kept. */
const SCHEMAS: Record<Kind, z.ZodType> = {
  TrackingServer: TrackingServerSpec.safeExtend(maskedFields("TrackingServer") as Record<string, never>),
  EasyService: SECRET_FIELDS.EasyService.length === 0 ? EasyServiceSpec : EasyServiceSpec.safeExtend(maskedFields("EasyService") as Record<string, never>),
};

/** What `status.lastAppliedSpec` gives: the object to fall back on, or why there is none. */
export interface LastApplied {
  object?: CustomObject;
  /** Why the status's last applied spec cannot be used (then `object` is undefined). */
  problems: Problem[];
}

const unusable = (kind: string, why: string): LastApplied => ({
  problems: [{ path: LAST_APPLIED_PATH, reason: INVALID_LAST_APPLIED_SPEC, message: `is not a valid ${kind} spec (${why}): it counts as no last applied spec, so nothing is declared from it` }],
});

/**
 * The object as last applied: the identity of the object (`ref`, and the uid and generation read from the
 * cluster), the spec from its status parsed with the kind's schema. Its secret fields keep reading `(secret)`.
 */
export function parseLastApplied(ref: ObjectRef, identity: { uid?: string; generation?: number }, spec: Record<string, unknown> | undefined): LastApplied {
  const kind = ref.kind;
  if (spec === undefined || (kind !== "TrackingServer" && kind !== "EasyService")) return { problems: [] };
  const metadata = ObjectMeta.safeParse({ name: ref.name, namespace: ref.namespace }, { reportInput: true, error: issueMessage });
  if (!metadata.success) return unusable(kind, metadata.error.issues.map((issue) => `metadata.${formatPath(issue.path)}: ${issue.message}`).join("; "));
  if (kind === "EasyService" && ref.name === TRACKING_SERVER_APP) return unusable(kind, `metadata.name: an EasyService named ${TRACKING_SERVER_APP} would select the pods of the namespace's TrackingServers`);
  const result = SCHEMAS[kind].safeParse(spec, { reportInput: true, error: issueMessage });
  if (!result.success) {
    // Never the value itself: a secret field holds `(secret)` or is refused without quoting it.
    const issues = result.error.issues.flatMap((issue) =>
      issue.code === "unrecognized_keys" ? issue.keys.map((key) => `${formatPath([...issue.path, key])}: is not a known field`) : [`${formatPath(issue.path)}: ${issue.message}`],
    );
    return unusable(kind, issues.join("; "));
  }
  const parsed = { ...(result.data as Record<string, unknown>) };
  for (const field of SECRET_FIELDS[kind]) if (spec[field] === MASK) parsed[field] = MASK;
  const { uid, generation } = identity;
  return { object: { kind, metadata: { name: ref.name, namespace: ref.namespace, uid, generation }, spec: parsed } as CustomObject, problems: [] };
}

// Collects custom-resource objects from any source into valid objects and per-object problems. One bad
// object never hides the others.
import { childrenOf } from "../builders/plan";
import { CustomObject, ObjectRef, parseObject, Problem } from "./objects";

/** A document of a file (numbered from 1), for what stops it from being read as objects. */
export interface DocumentRef { document: number }

export interface SpecError {
  /** The file the object came from, for the `files` source. */
  file?: string;
  ref: ObjectRef | DocumentRef;
  path: string;
  message: string;
}

export interface Specs {
  /** Valid objects, in the order they were read. */
  objects: CustomObject[];
  errors: SpecError[];
}

/** A raw object and where it came from. */
export interface RawObject { raw: unknown; file?: string }

/**
 * `<file>: <Kind> <namespace>/<name>: <field path>: <message>`, the line `validate` prints; for a document
 * that could not be read, `<file>: document <n>: <field path or (yaml)>: <message>`.
 */
export function formatError(error: SpecError): string {
  const where = error.file === undefined ? "" : `${error.file}: `;
  const what = "document" in error.ref ? `document ${error.ref.document}` : `${error.ref.kind} ${error.ref.namespace}/${error.ref.name}`;
  return `${where}${what}: ${error.path}: ${error.message}`;
}

/** `<Kind> "<name>"` of every child the object makes (child names do not depend on the stack's options). */
export function childNames(object: CustomObject): string[] {
  return childrenOf(object, { defaultImage: "-" }).map((child) => `${child.kind} ${JSON.stringify(child.metadata.name)}`);
}

/** Something only one object may have, and the problem of another object that asks for it too. */
export interface Claim {
  key: string;
  problem(holder: ObjectRef): Problem;
}

const named = (holder: ObjectRef) => `${holder.kind} ${holder.namespace}/${holder.name}`;

/**
 * What an object takes in the cluster that no other object may, by kind of claim, in the order clashes
 * are reported: its children's names (per namespace), its NodePorts (allocated cluster-wide), and the
 * host of a TrackingServer's URL, whose `/api` it takes (MLflow before 3.12 cannot serve its REST API
 * under a path, so the Ingress of a server under `https://host/team` routes the host's `/api` to it too;
 * ingress controllers route a host's paths across namespaces).
 */
export function claimsOf(object: CustomObject): Claim[][] {
  const { name, namespace } = object.metadata;
  const children = childNames(object).map((child) => ({
    key: `child ${namespace} ${child}`,
    problem: (holder: ObjectRef) => ({ path: "metadata.name", message: `${JSON.stringify(name)} would make the ${child}, which ${named(holder)} already has` }),
  }));
  const ports = object.kind !== "EasyService" ? [] : (object.spec.ports ?? []).flatMap((port, i) => (port.nodePort === undefined ? [] : [{
    key: `nodePort ${port.nodePort}`,
    problem: (holder: ObjectRef) => ({ path: `spec.ports[${i}].nodePort`, message: `${port.nodePort} is already used by ${named(holder)}` }),
  }]));
  const host = object.kind === "TrackingServer" && object.spec.url !== undefined ? new URL(object.spec.url).hostname : undefined;
  const hosts = host === undefined ? [] : [{
    key: `host ${host}`,
    problem: (holder: ObjectRef) => ({ path: "spec.url", message: `the host ${host} already serves the REST API (/api) of ${named(holder)}, and MLflow before 3.12 cannot serve its API under a path: give each server a host of its own` }),
  }];
  return [children, ports, hosts];
}

/** The problems of the first kind of claim of which `held` has some already; none when it has none. */
export function clashes(claims: readonly Claim[][], held: ReadonlyMap<string, ObjectRef>): Problem[] {
  for (const group of claims) {
    const taken = group.filter((claim) => held.has(claim.key));
    if (taken.length > 0) return taken.map((claim) => claim.problem(held.get(claim.key)!));
  }
  return [];
}

/** Records every claim as held by `holder`. */
export function hold(claims: readonly Claim[][], holder: ObjectRef, held: Map<string, ObjectRef>): void {
  for (const group of claims) for (const claim of group) held.set(claim.key, holder);
}

/** One object as read: its parsed form when valid, else the problems found. */
export interface Collected {
  ref: ObjectRef;
  file?: string;
  raw: unknown;
  object?: CustomObject;
  problems: Problem[];
}

/**
 * Parses every object, then rejects the later of two objects that would clash in the cluster: the same
 * namespace and name, of either kind (both would make a Deployment and a Service of that name), a child
 * with the name of another object's child (TrackingServer `a` has the Secret `a-credentials`, which a
 * TrackingServer `a-credentials` with a certificate would take for its TLS Secret), the same NodePort,
 * which is allocated cluster-wide, or a TrackingServer URL on a host that already serves another one's
 * REST API (ingress controllers route a host's paths across namespaces).
 */
export function collectObjects(entries: readonly RawObject[]): Collected[] {
  const owners = new Map<string, CustomObject>();
  const held = new Map<string, ObjectRef>();
  return entries.map(({ raw, file }) => {
    const parsed = parseObject(raw);
    if (!parsed.ok) return { ref: parsed.ref, file, raw, problems: parsed.problems };
    const key = `${parsed.ref.namespace}/${parsed.ref.name}`;
    const owner = owners.get(key);
    if (owner !== undefined) {
      const message = `${JSON.stringify(parsed.ref.name)} is already used by ${owner.kind} ${key}, whose children have the same names`;
      return { ref: parsed.ref, file, raw, problems: [{ path: "metadata.name", message }] };
    }
    const claims = claimsOf(parsed.object);
    const problems = clashes(claims, held);
    if (problems.length > 0) return { ref: parsed.ref, file, raw, problems };
    hold(claims, parsed.ref, held);
    owners.set(key, parsed.object);
    return { ref: parsed.ref, file, raw, object: parsed.object, problems: [] };
  });
}

/** The problems of collected objects as error lines. */
export function errorsOf(collected: readonly Collected[]): SpecError[] {
  return collected.flatMap(({ ref, file, problems }) => problems.map((problem) => ({ file, ref, ...problem })));
}

/** Valid objects and the errors of the others. */
export function collectSpecs(entries: readonly RawObject[]): Specs {
  const collected = collectObjects(entries);
  return { objects: collected.flatMap((c) => (c.object === undefined ? [] : [c.object])), errors: errorsOf(collected) };
}

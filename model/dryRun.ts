// What the API server would refuse at apply (a larger claim on a StorageClass without expansion, a claim
// above a ResourceQuota, an admission webhook or policy, a NodePort taken) only it can tell. Before
// anything is applied, the program dry-runs the children that would change (sources/plan.ts); a refusal
// becomes a problem of the object, which is then declared from its last applied spec, like an invalid
// one, so that one object's refused child never fails the run of the others.
import { Manifest } from "../builders/meta";
import { childrenOf } from "../builders/plan";
import { TrackingServerOptions } from "../builders/trackingServer";
import { COLLISION, fieldOf } from "./collisions";
import { Existing, existingKey } from "./existing";
import { CustomObject, maskSpec, Problem } from "./objects";

export const REFUSED = "Refused";

/** A child's kind and name: what stays the same when its spec changes. */
const identity = (child: Manifest) => `${child.kind}/${child.metadata.name}`;

/**
 * The children of `object` that this run would create or change: those that differ from the children of
 * its last applied spec (all of them when it has none), and those missing from the cluster. Secret
 * values are compared as the status keeps them, `(secret)`: a change of a secret value alone is not
 * dry-run (the apply still tells). The children are as the builders make them: without the
 * ownerReferences and provider annotations the components add.
 */
export function changingChildren(object: CustomObject, lastApplied: CustomObject | undefined, existing: Existing, options: TrackingServerOptions): Manifest[] {
  const masked = (from: CustomObject) => ({ ...from, spec: maskSpec(from.kind, from.spec) }) as CustomObject;
  const before = new Map((lastApplied === undefined ? [] : childrenOf(masked(lastApplied), options)).map((child) => [identity(child), JSON.stringify(child)]));
  const now = new Map(childrenOf(masked(object), options).map((child) => [identity(child), JSON.stringify(child)]));
  return childrenOf(object, options).filter((child) =>
    before.get(identity(child)) !== now.get(identity(child)) || !existing.has(existingKey(child.kind, object.metadata.namespace, child.metadata.name)),
  );
}

/**
 * The API server's refusal of a child as a problem of the object, quoting the server: a NodePort already
 * allocated is a Collision on the port it names (`spec.ports[1].nodePort`); anything else is Refused, on
 * the field that makes the child.
 */
export function refusalProblem(object: CustomObject, child: Manifest, message: string): Problem {
  const quoted = `the API server refuses the ${child.kind} ${JSON.stringify(child.metadata.name)}: ${message}`;
  const port = /spec\.ports\[(\d+)\]\.nodePort/.exec(message);
  if (object.kind === "EasyService" && child.kind === "Service" && /already allocated/.test(message)) {
    const index = port !== null ? Number(port[1]) : Math.max(0, (object.spec.ports ?? []).findIndex((p) => p.nodePort !== undefined));
    return { path: `spec.ports[${index}].nodePort`, message: quoted, reason: COLLISION };
  }
  return { path: fieldOf(object, child), message: quoted, reason: REFUSED };
}

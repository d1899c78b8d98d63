// NodePorts are allocated cluster-wide, and the program cannot list the Services of namespaces it does
// not serve: only the API server knows whether a port is free. A server-side dry run of the Service an
// EasyService would apply tells, before anything is applied (sources/cluster.ts); a refusal becomes a
// problem of the object, which is then declared from its last applied spec.
import { service } from "../builders/easyService";
import { Manifest } from "../builders/meta";
import { COLLISION, isOwnChild, Owner } from "./collisions";
import { Existing, existingKey } from "./existing";
import { CustomObject, Problem } from "./objects";

/** A Service to dry-run, and the indexes of the ports whose nodePort it does not hold yet. */
export interface NodePortCheck {
  service: Manifest;
  ports: number[];
}

/**
 * The EasyService's Service when it asks for a nodePort that its existing Service (its own) does not
 * already hold; undefined when there is nothing to ask the API server. What the Service holds is what
 * the last applied spec asked for: the listed metadata holds no ports.
 */
export function nodePortCheck(object: CustomObject, owner: Owner, existing: Existing): NodePortCheck | undefined {
  if (object.kind !== "EasyService") return undefined;
  const manifest = service(object);
  if (manifest === undefined) return undefined;
  const found = existing.get(existingKey("Service", object.metadata.namespace, object.metadata.name));
  const lastPorts = (owner.lastAppliedSpec?.ports ?? []) as { nodePort?: unknown; protocol?: unknown }[];
  const held = (nodePort: number, protocol: string) =>
    found !== undefined && isOwnChild(found, owner) && lastPorts.some((port) => port.nodePort === nodePort && (port.protocol ?? "TCP") === protocol);
  const ports = (object.spec.ports ?? []).flatMap((port, i) => (port.nodePort === undefined || held(port.nodePort, port.protocol) ? [] : [i]));
  return ports.length === 0 ? undefined : { service: manifest, ports };
}

/**
 * The API server's refusal as a problem on the port it names (`spec.ports[1].nodePort: Invalid value:
 * 30080: provided port is already allocated`), else on the first port checked.
 */
export function refusalProblem(check: NodePortCheck, message: string): Problem {
  const named = /spec\.ports\[(\d+)\]\.nodePort/.exec(message);
  const index = named !== null && check.ports.includes(Number(named[1])) ? Number(named[1]) : check.ports[0];
  return { path: `spec.ports[${index}].nodePort`, message: `the API server refuses the Service: ${message}`, reason: COLLISION };
}

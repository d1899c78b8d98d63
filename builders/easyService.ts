// EasyService → a Deployment and a NodePort Service, as pure functions of the spec.
//
// `@pulumi/kubernetesx` does not fit here either: its Service builder has no `nodePort`, and its
// PodBuilder returns Outputs, which `render` cannot print without the Pulumi engine.
import { ServicePort } from "../model/easyService";
import { EasyServiceObject as EasyService } from "../model/objects";
import { childLabels, childMetadata, Manifest, RESTRICTED_CONTAINER, RUNTIME_DEFAULT_SECCOMP } from "./meta";

export interface EasyServiceChildren {
  deployment: Manifest;
  /** A Service needs at least one port: no `ports`, no Service. */
  service: Manifest | undefined;
}

/** The original controller's selector, `app: <name>`, kept so its Services and tools still match. */
function selector(object: EasyService) {
  return { app: object.metadata.name };
}

function labels(object: EasyService) {
  return { ...selector(object), ...childLabels(object, object.metadata.name) };
}

/** The container port a Service port sends to: a numeric targetPort, else the port itself. */
export function containerPort(port: ServicePort) {
  const containerPort = typeof port.targetPort === "number" ? port.targetPort : port.port;
  const name = typeof port.targetPort === "string" ? port.targetPort : port.name;
  return { ...(name === undefined ? {} : { name }), containerPort, protocol: port.protocol };
}

/**
 * The security settings of the pod and its container. The image is the tenant's and may need root, and
 * a root process without its capabilities cannot do what root images do at start (nginx changes the
 * owner of its cache folders, then its user): so only with `runAsUser` does the pod meet the restricted
 * Pod Security Standard. Without it, the pod meets the baseline standard, with what costs a root image
 * nothing: no privilege escalation through setuid binaries, the runtime's default seccomp filter, and no
 * raw sockets (NET_RAW, the one default capability the baseline standard would not let a pod add).
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/
 */
export function securityContexts(object: EasyService): { pod: Record<string, unknown>; container: Record<string, unknown> } {
  const { runAsUser } = object.spec;
  if (runAsUser === undefined) {
    return { pod: { ...RUNTIME_DEFAULT_SECCOMP }, container: { allowPrivilegeEscalation: false, capabilities: { drop: ["NET_RAW"] } } };
  }
  return { pod: { runAsNonRoot: true, runAsUser, ...RUNTIME_DEFAULT_SECCOMP }, container: RESTRICTED_CONTAINER };
}

export function deployment(object: EasyService): Manifest {
  const { size, image, resources, envs, ports } = object.spec;
  const security = securityContexts(object);
  const container: Record<string, unknown> = { name: object.metadata.name, image };
  if (resources !== undefined) container.resources = resources;
  if (envs !== undefined && envs.length > 0) container.env = envs;
  if (ports !== undefined && ports.length > 0) container.ports = ports.map(containerPort);
  container.securityContext = security.container;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: childMetadata(object, object.metadata.name, labels(object)),
    spec: {
      replicas: size,
      selector: { matchLabels: selector(object) },
      // The spec cannot name a service account, so the pod would run as the namespace's `default` and
      // hand its token to whatever image the spec names: none is mounted.
      // https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting
      template: { metadata: { labels: labels(object) }, spec: { automountServiceAccountToken: false, securityContext: security.pod, containers: [container] } },
    },
  };
}

export function service(object: EasyService): Manifest | undefined {
  const ports = object.spec.ports ?? [];
  if (ports.length === 0) return undefined;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: childMetadata(object, object.metadata.name, labels(object)),
    spec: {
      type: "NodePort",
      selector: selector(object),
      ports: ports.map(({ name, protocol, port, targetPort, nodePort, appProtocol }) => ({
        ...(name === undefined ? {} : { name }),
        protocol,
        port,
        targetPort: targetPort ?? port,
        ...(nodePort === undefined ? {} : { nodePort }),
        ...(appProtocol === undefined ? {} : { appProtocol }),
      })),
    },
  };
}

export function buildEasyService(object: EasyService): EasyServiceChildren {
  return { deployment: deployment(object), service: service(object) };
}

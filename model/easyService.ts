// EasyService (`app.kubebuilder.io/v1`): "image + replicas + ports" becomes a Deployment and a Service.
// `resources`, `envs` and `ports` are the Kubernetes types of the original controller.
import { z } from "zod";
import { ENV_VAR_NAME, NODE_PORT_RANGE, QUALIFIED_NAME, imageReference, isQualifiedName, matching, portName, portNumber, protocol, qualifiedName, quantity, quote, strictObject, wholeNumber, DNS_SUBDOMAIN } from "./common";
import { ResourceRequirements } from "./resources";
import { all, any, countSet, endsWith, excludes, firstOf, isSet, listOf, not, requiredWhenSeveral, textIn, uniqueBy, withRules } from "./rules";

export const EASY_SERVICE = {
  group: "app.kubebuilder.io",
  version: "v1",
  kind: "EasyService",
  plural: "easyservices",
  singular: "easyservice",
  shortNames: ["es", "easysvc"],
} as const;

/** A Secret's or ConfigMap's key (`IsConfigMapKey`): not `.`, `..` or starting with `..`. */
const keyName = matching(/^\.?[-_a-zA-Z0-9][-._a-zA-Z0-9]*$/, "a key name (letters, digits, '-', '_' and '.', not starting with '..')", 253);
const objectName = matching(DNS_SUBDOMAIN, "an object name", 253);

/** The pod fields an environment variable can read (`validEnvDownwardAPIFieldPathExpressions`), labels and annotations by key. */
const FIELD_PATHS = "metadata.name, metadata.namespace, metadata.uid, metadata.labels['<key>'], metadata.annotations['<key>'], spec.nodeName, spec.serviceAccountName, status.hostIP, status.hostIPs, status.podIP, status.podIPs";
const FIELD_PATH = new RegExp(`^(metadata\\.(name|namespace|uid)|spec\\.(nodeName|serviceAccountName)|status\\.(hostIPs?|podIPs?)|metadata\\.(labels|annotations)\\['${QUALIFIED_NAME.source.slice(1, -1)}'\\])$`);
const fieldPath = matching(FIELD_PATH, `a field an environment variable can read (${FIELD_PATHS})`).refine(
  (path) => !path.includes("['") || isQualifiedName(path.slice(path.indexOf("['") + 2, -2)),
  { error: (issue) => `${quote(issue.input)} has a key with a prefix longer than 253 characters` },
);

/** The container resources an environment variable can read (`validContainerResourceFieldPathExpressions`, hugepages by size). */
const RESOURCE_FIELD = /^(limits|requests)\.(cpu|memory|ephemeral-storage|hugepages-[0-9A-Za-z.+]+)$/;
const resourceField = matching(RESOURCE_FIELD, "a resource an environment variable can read (limits.cpu, limits.memory, limits.ephemeral-storage, limits.hugepages-<size>, or the same under requests.)");
const CPU_FIELD = ".cpu";
/** The divisors the API server takes for a resource (`validateContainerResourceDivisor`), as written. */
const CPU_DIVISORS = ["1m", "1"];
const BYTE_DIVISORS = ["1", ..."kMGTPE".split("").map((prefix) => `1${prefix}`), ..."KMGTPE".split("").map((prefix) => `1${prefix}i`)];
const divisorsOf = (resource: string) => (resource.endsWith(CPU_FIELD) ? CPU_DIVISORS : BYTE_DIVISORS);

/** Where an env var's value comes from. https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#environment-variables */
const EnvVarSourceFields = strictObject({
  secretKeyRef: strictObject({ name: objectName, key: keyName, optional: z.boolean().optional() }).optional(),
  configMapKeyRef: strictObject({ name: objectName, key: keyName, optional: z.boolean().optional() }).optional(),
  fieldRef: strictObject({ fieldPath, apiVersion: z.enum(["v1"]).optional() }).optional(),
  resourceFieldRef: withRules(strictObject({
    resource: resourceField,
    containerName: z.string().optional(),
    divisor: quantity.optional(),
  }), [{
    // Whatever `resource` is: one that is no resource is reported on its own field.
    holds: any(
      not(isSet("divisor")),
      all(endsWith("resource", CPU_FIELD), textIn("divisor", CPU_DIVISORS)),
      all(not(endsWith("resource", CPU_FIELD)), textIn("divisor", BYTE_DIVISORS)),
    ),
    field: "divisor",
    message: `is not a divisor for the resource (for cpu: ${CPU_DIVISORS.join(", ")}; else ${BYTE_DIVISORS.join(", ")})`,
    problem: (ref: { resource: string; divisor: unknown }) => `${quote(ref.divisor)} is not a divisor for ${ref.resource} (${divisorsOf(ref.resource).join(", ")})`,
  }]).optional(),
});
const SOURCES = Object.keys(EnvVarSourceFields.shape);
const EnvVarSource = withRules(EnvVarSourceFields, [{
  holds: countSet(SOURCES, 1),
  message: `set exactly one of ${SOURCES.join(", ")}`,
  problem: (source: object) => `sets ${Object.values(source).filter((value) => value !== undefined).length} sources: set exactly one of ${SOURCES.join(", ")}`,
}]);

export const EnvVar = withRules(strictObject({
  name: matching(ENV_VAR_NAME, "an environment variable name (letters, digits, '_', '-', '.'; not starting with a digit)"),
  value: z.string().optional(),
  valueFrom: EnvVarSource.optional(),
}), [excludes("valueFrom", "value", "Only one of `value` or `valueFrom` may be set")]);
export type EnvVar = z.infer<typeof EnvVar>;

/** A `targetPort` string is a container port's name, even of digits only. */
const targetPortName = portName("; a port number is written without quotes");

/** A Service port; `nodePort` pins the NodePort. https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport */
export const ServicePort = strictObject({
  /** Also the name of its container port, unless `targetPort` names that. */
  name: portName().optional(),
  protocol: protocol.default("TCP"),
  port: portNumber,
  /** A port number, or the name of a container port. */
  targetPort: z.union([portNumber, targetPortName], {
    // A string that is no port name reports why; what is neither a number nor a string, that it is not.
    error: (issue) => (typeof issue.input === "string" ? targetPortName.safeParse(issue.input).error?.issues[0].message : `${quote(issue.input)} is neither a whole number nor a string`),
  }).optional(),
  nodePort: wholeNumber(NODE_PORT_RANGE.min, NODE_PORT_RANGE.max).optional(),
  appProtocol: qualifiedName('a qualified name like "http" or "kubernetes.io/h2c"').optional(),
});
export type ServicePort = z.infer<typeof ServicePort>;

/** The name of the container port a Service port makes (builders/easyService.ts): a named targetPort, else the port's own name. */
const containerPortName = firstOf({ name: "targetPort", string: true }, { name: "name" });
const namedByTargetPort = (port: ServicePort) => typeof port.targetPort === "string";

/**
 * An upper bound on environment variables: the CRD's cost budget counts the CEL rules of an item once for
 * every item the list may have.
 */
const MAX_ENVS = 1000;

/**
 * An upper bound on ports, so that the CEL rules that compare every two of them stay within the API
 * server's cost budget; a Service of this many ports is far beyond what one container serves.
 */
const MAX_PORTS = 100;

/** The largest user id a pod's `runAsUser` takes (`IsValidUserID`: 0 to 2^31-1). */
const MAX_USER_ID = 2147483647;

const PORT_RULES = [
  requiredWhenSeveral("name", { message: "every port needs a name when there is more than one", problem: "is required when there is more than one port" }),
  uniqueBy(["name"], { message: "two ports have the same name", problem: (port: ServicePort) => ({ path: ["name"], message: `${quote(port.name)} is used by another port` }) }),
  uniqueBy(["port", "protocol"], { message: "two ports have the same port and protocol", problem: (port: ServicePort) => ({ path: ["port"], message: `${port.port}/${port.protocol} is used by another port` }) }),
  uniqueBy(["nodePort", "protocol"], { message: "two ports of one protocol have the same nodePort", problem: (port: ServicePort) => ({ path: ["nodePort"], message: `${port.nodePort} is used by another port` }) }),
  // Each port makes a container port named by its targetPort, else by its name, and the names of a
  // container's ports must differ (two equal port names are reported by the rule above).
  uniqueBy([containerPortName], {
    message: "two ports would make container ports of the same name: each port gets a container port of its own, named by its targetPort or else its name",
    otherRule: (port: ServicePort, other: ServicePort) => !namedByTargetPort(port) && !namedByTargetPort(other),
    problem: (port: ServicePort, first: number) => ({
      path: [namedByTargetPort(port) ? "targetPort" : "name"],
      message: `${quote(containerPortName.get(port))} already names the container port of ports[${first}]: each port gets a container port of its own, named by its targetPort or else its name`,
    }),
  }),
];

export const EasyServiceSpec = strictObject({
  /** Number of replicas. */
  size: wholeNumber(0, 1000).describe("Number of replicas"),
  /** Container image. */
  image: imageReference.describe("Container image"),
  /** Compute resources of the one container. @default none */
  resources: ResourceRequirements.optional().describe("Compute resources (limits, requests) of the container"),
  /** Environment of the container, one variable per name. @default none */
  envs: listOf(EnvVar, [uniqueBy(["name"], { message: "two variables have the same name", problem: (env: EnvVar) => ({ path: ["name"], message: `${quote(env.name)} is set twice` }) })], MAX_ENVS)
    .optional()
    .describe("Environment variables of the container"),
  /** Ports of the NodePort Service, also exposed as container ports; no ports, no Service. @default none */
  ports: listOf(ServicePort, PORT_RULES, MAX_PORTS).optional().describe("Ports of the NodePort Service and the container"),
  /**
   * Runs the container as this user id, never root, with every capability dropped: the pod then meets the
   * restricted Pod Security Standard. The image must work as that user. Unset, the image's own user runs
   * (often root) and the pod meets the baseline standard.
   * https://kubernetes.io/docs/concepts/security/pod-security-standards/
   * @default the image's user
   */
  runAsUser: wholeNumber(1, MAX_USER_ID)
    .optional()
    .describe("Run the container as this non-root user id with all capabilities dropped (restricted Pod Security Standard); the image must work as that user. Default: the image's user"),
});
export type EasyServiceSpec = z.infer<typeof EasyServiceSpec>;

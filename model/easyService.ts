// EasyService (`app.kubebuilder.io/v1`): "image + replicas + ports" becomes a Deployment and a Service.
// `resources`, `envs` and `ports` are the Kubernetes types of the original controller.
import { z } from "zod";
import {
  ENV_VAR_NAME, NODE_PORT_RANGE, PORT_NAME, imageReference, intOrString, matching, portNumber, protocol, quantity, quote,
  ResourceRequirements, strictObject, wholeNumber, DNS_SUBDOMAIN,
} from "./common";

export const EASY_SERVICE = {
  group: "app.kubebuilder.io",
  version: "v1",
  kind: "EasyService",
  plural: "easyservices",
  singular: "easyservice",
  shortNames: ["es", "easysvc"],
} as const;

const keyName = matching(/^[-._a-zA-Z0-9]+$/, "a key name", 253);
const objectName = matching(DNS_SUBDOMAIN, "an object name", 253);

/** Where an env var's value comes from. https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#environment-variables */
const EnvVarSource = strictObject({
  secretKeyRef: strictObject({ name: objectName, key: keyName, optional: z.boolean().optional() }).optional(),
  configMapKeyRef: strictObject({ name: objectName, key: keyName, optional: z.boolean().optional() }).optional(),
  fieldRef: strictObject({ fieldPath: z.string().min(1), apiVersion: z.string().optional() }).optional(),
  resourceFieldRef: strictObject({
    resource: z.string().min(1),
    containerName: z.string().optional(),
    divisor: quantity.optional(),
  }).optional(),
}).superRefine((source, ctx) => {
  const set = Object.values(source).filter((value) => value !== undefined).length;
  if (set !== 1) ctx.addIssue({ code: "custom", message: `sets ${set} sources: set exactly one of secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef` });
});

export const EnvVar = strictObject({
  name: matching(ENV_VAR_NAME, "an environment variable name (letters, digits, '_', '-', '.'; not starting with a digit)"),
  value: z.string().optional(),
  valueFrom: EnvVarSource.optional(),
}).superRefine((env, ctx) => {
  if (env.value !== undefined && env.valueFrom !== undefined) {
    ctx.addIssue({ code: "custom", path: ["valueFrom"], message: "Only one of `value` or `valueFrom` may be set" });
  }
});
export type EnvVar = z.infer<typeof EnvVar>;

/** A Service port; `nodePort` pins the NodePort. https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport */
export const ServicePort = strictObject({
  name: matching(PORT_NAME, "a port name (up to 15 lowercase letters, digits and '-')").optional(),
  protocol: protocol.default("TCP"),
  port: portNumber,
  targetPort: intOrString.optional(),
  nodePort: wholeNumber(NODE_PORT_RANGE.min, NODE_PORT_RANGE.max).optional(),
  appProtocol: z.string().optional(),
}).superRefine((port, ctx) => {
  const target = port.targetPort;
  if (typeof target === "number" && (target < 1 || target > 65535)) {
    ctx.addIssue({ code: "custom", path: ["targetPort"], message: `${quote(target)} is outside 1-65535` });
  }
  if (typeof target === "string" && !PORT_NAME.test(target)) {
    ctx.addIssue({ code: "custom", path: ["targetPort"], message: `${quote(target)} is not a port name (up to 15 lowercase letters, digits and '-')` });
  }
});
export type ServicePort = z.infer<typeof ServicePort>;

export const EasyServiceSpec = strictObject({
  /** Number of replicas. */
  size: wholeNumber(0, 1000).describe("Number of replicas"),
  /** Container image. */
  image: imageReference.describe("Container image"),
  /** Compute resources of the one container. @default none */
  resources: ResourceRequirements.optional().describe("Compute resources (limits, requests) of the container"),
  /** Environment of the container. @default none */
  envs: z.array(EnvVar).optional().describe("Environment variables of the container"),
  /** Ports of the NodePort Service, also exposed as container ports; no ports, no Service. @default none */
  ports: z.array(ServicePort).optional().describe("Ports of the NodePort Service and the container"),
}).superRefine((spec, ctx) => {
  const envs = spec.envs ?? [];
  envs.forEach((env, i) => {
    if (envs.findIndex((other) => other.name === env.name) !== i) {
      ctx.addIssue({ code: "custom", path: ["envs", i, "name"], message: `${quote(env.name)} is set twice` });
    }
  });
  const ports = spec.ports ?? [];
  ports.forEach((port, i) => {
    const earlier = ports.slice(0, i);
    if (ports.length > 1 && port.name === undefined) {
      ctx.addIssue({ code: "custom", path: ["ports", i, "name"], message: "is required when there is more than one port" });
    }
    if (port.name !== undefined && earlier.some((other) => other.name === port.name)) {
      ctx.addIssue({ code: "custom", path: ["ports", i, "name"], message: `${quote(port.name)} is used by another port` });
    }
    if (earlier.some((other) => other.port === port.port && other.protocol === port.protocol)) {
      ctx.addIssue({ code: "custom", path: ["ports", i, "port"], message: `${port.port}/${port.protocol} is used by another port` });
    }
    if (port.nodePort !== undefined && earlier.some((other) => other.nodePort === port.nodePort && other.protocol === port.protocol)) {
      ctx.addIssue({ code: "custom", path: ["ports", i, "nodePort"], message: `${port.nodePort} is used by another port` });
    }
  });
});
export type EasyServiceSpec = z.infer<typeof EasyServiceSpec>;

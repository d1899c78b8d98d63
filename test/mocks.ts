// Pulumi's mocks, recording every registered resource as `{type, name, inputs}`.
import * as pulumi from "@pulumi/pulumi";

export interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
  /** The resource options the mocks see only in the raw request. */
  options: { ignoreChanges: string[]; retainOnDelete: boolean };
}

const { getMonitor } = require("@pulumi/pulumi/runtime/settings") as { getMonitor: () => any };

/** The uid the mocks give a custom resource, so ownerReferences can be checked. */
export const mockUid = (name: string) => `uid-${name}`;

/** Installs the mocks and returns the list they record into. Call before creating any resource. */
export function recordResources(stack = "test"): Registered[] {
  const registered: Registered[] = [];
  const options = new Map<string, Registered["options"]>();
  pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs, options: options.get(`${args.type} ${args.name}`)! });
        const metadata = { ...(args.inputs.metadata ?? {}), uid: mockUid(args.name) };
        return { id: `${args.name}-id`, state: { ...args.inputs, metadata } };
      },
      call(args) {
        return args.inputs;
      },
    },
    "crdstack",
    stack,
    false,
  );
  // The mocks pass newResource the inputs only; the options are read off the request on its way in.
  const monitor = getMonitor();
  const registerResource = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request: any, callback: unknown) => {
    options.set(`${request.getType()} ${request.getName()}`, { ignoreChanges: request.getIgnorechangesList(), retainOnDelete: request.getRetainondelete() });
    return registerResource(request, callback);
  };
  return registered;
}

export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

// The SDK's own wait for its queue of resource registrations to drain (what `disconnect` waits for),
// exported by the runtime module but not re-exported from the package root.
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs: () => Promise<void> };

/** Waits until every resource created so far has been registered with the mocks. */
export function settled(): Promise<void> {
  return waitForRPCs();
}

// The wire form of a secret (`{[specialSigKey]: specialSecretSig, value}`), from the SDK's rpc module.
const { specialSigKey: SECRET_SIG, specialSecretSig: SECRET_VALUE } = require("@pulumi/pulumi/runtime/rpc") as { specialSigKey: string; specialSecretSig: string };

/** Replaces every Pulumi secret the mocks saw by its plain value, and lists the secret paths. */
export function unwrapSecrets(value: unknown, path = "", secrets: string[] = []): unknown {
  if (Array.isArray(value)) return value.map((item, i) => unwrapSecrets(item, `${path}[${i}]`, secrets));
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  if (record[SECRET_SIG] === SECRET_VALUE) {
    secrets.push(path);
    return unwrapSecrets(record.value, path, []);
  }
  return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, unwrapSecrets(item, path === "" ? key : `${path}.${key}`, secrets)]));
}


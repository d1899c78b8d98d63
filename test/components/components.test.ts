import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mockUid, recordResources, Registered, settled, unwrapSecrets } from "../mocks";
const registered = recordResources();
const deletedWith = recordDeletedWith();
import { EasyService } from "../../components/EasyService";
import { TrackingServer } from "../../components/TrackingServer";
import { DELETION_PROPAGATION, SKIP_AWAIT } from "../../components/children";
import { OWNER_UID_ANNOTATION as OWNER_UID } from "../../model/collisions";
import { easyService, PEM, trackingServer } from "../helpers";

/** The `deletedWith` URN of each registered resource, by `<type> <name>`, read off the request as the mocks do. */
function recordDeletedWith(): Map<string, string> {
  const { getMonitor } = require("@pulumi/pulumi/runtime/settings") as { getMonitor: () => any };
  const seen = new Map<string, string>();
  const monitor = getMonitor();
  const registerResource = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request: any, callback: unknown) => {
    seen.set(`${request.getType()} ${request.getName()}`, request.getDeletedwith());
    return registerResource(request, callback);
  };
  return seen;
}

const options = { defaultImage: "ghcr.io/mlflow/mlflow:v3.1.1" };
const files = { create: true as const, dependsOn: [], uid: undefined };

/** The resources registered under a component name prefix, by type's last segment (`Deployment`, ...). */
function childrenOf(namespace: string, name: string): Record<string, Registered> {
  const found: Record<string, Registered> = {};
  for (const resource of registered) {
    const kind = resource.type.split(":").pop() as string;
    if (resource.type.startsWith("kubernetes:") && resource.inputs.metadata?.namespace === namespace && resource.inputs.metadata?.name?.startsWith(name)) {
      found[resource.inputs.metadata.name === name ? kind : `${kind}:${resource.inputs.metadata.name}`] = resource;
    }
  }
  return found;
}

describe("TrackingServer component", () => {
  test("defaults: the custom resource, credentials, Service and Deployment; no claim, TLS or Ingress", async () => {
    const server = new TrackingServer("min/ts", { object: trackingServer({}, "ts", "min"), options, source: files });
    await settled();
    assert.deepEqual(Object.keys(childrenOf("min", "ts")).sort(), ["Deployment", "Secret:ts-credentials", "Service", "TrackingServer"]);
    assert.equal(server.volumeClaim, undefined);
    assert.equal(server.tlsSecret, undefined);
    assert.equal(server.ingress, undefined);
    assert.equal(server.url, "http://ts.min.svc:5000");
  });

  test("every optional child present when its fields are set", async () => {
    const spec = { url: "https://mlflow.example.com", volumeSize: "1Gi", storageClassName: "fast", aws_access_key: "AKIAEXAMPLE", aws_secret_key: "s3cr3t-value", ...PEM };
    const server = new TrackingServer("full/ts", { object: trackingServer(spec, "ts", "full"), options, source: files });
    await settled();
    const children = childrenOf("full", "ts");
    assert.deepEqual(Object.keys(children).sort(), ["Deployment", "Ingress", "PersistentVolumeClaim", "Secret", "Secret:ts-credentials", "Service", "TrackingServer"]);
    assert.ok(server.volumeClaim && server.tlsSecret && server.ingress);
    assert.equal(server.url, "https://mlflow.example.com");
    // No await on readiness: a Deployment whose pods never get ready must not hold the run.
    const awaited = Object.entries(children).filter(([, child]) => child.inputs.metadata?.annotations?.[SKIP_AWAIT] !== "true").map(([kind]) => kind);
    assert.deepEqual(awaited, []);
  });

  test("secret values are Pulumi secrets, and never plain in the Deployment", async () => {
    const spec = { aws_access_key: "AKIAEXAMPLE", aws_secret_key: "s3cr3t-value", backend_uri: "mysql://u:hunter2@db/m", url: "https://m.example.com", ...PEM };
    new TrackingServer("sec/ts", { object: trackingServer(spec, "ts", "sec"), options, source: files });
    await settled();
    const children = childrenOf("sec", "ts");
    const secretPaths = (resource: Registered) => {
      const paths: string[] = [];
      unwrapSecrets(resource.inputs, "", paths);
      return paths.sort();
    };
    assert.deepEqual(secretPaths(children["Secret:ts-credentials"]), ["stringData"]);
    assert.deepEqual(secretPaths(children.Secret), ["stringData"]);
    // A secret field makes the whole custom resource spec secret in the registration.
    assert.deepEqual(secretPaths(children.TrackingServer), ["spec"]);
    const deployment = JSON.stringify(children.Deployment.inputs);
    for (const secret of ["AKIAEXAMPLE", "s3cr3t-value", "hunter2", "PRIVATE KEY"]) assert.ok(!deployment.includes(secret), `${secret} in the Deployment`);
    for (const env of children.Deployment.inputs.spec.template.spec.containers[0].env) {
      assert.ok(env.valueFrom !== undefined || !/KEY|URI/.test(env.name), `${env.name} is a plain value`);
    }
  });

  test("children carry an ownerReference to the custom resource", async () => {
    new TrackingServer("own/ts", { object: trackingServer({ url: "http://m.example.com" }, "ts", "own"), options, source: files });
    await settled();
    for (const [kind, child] of Object.entries(childrenOf("own", "ts"))) {
      if (kind === "TrackingServer") continue;
      assert.deepEqual(child.inputs.metadata.ownerReferences, [
        { apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", name: "ts", uid: mockUid("own/ts"), controller: true, blockOwnerDeletion: true },
      ], kind);
    }
  });

  test("every child carries its owner's uid; the retained claim too, without an ownerReference", async () => {
    new TrackingServer("uid/ts", { object: trackingServer({ url: "http://m.example.com", volumeSize: "1Gi", retainVolume: true, ...PEM }, "ts", "uid"), options, source: files });
    await settled();
    const children = Object.entries(childrenOf("uid", "ts")).filter(([kind]) => kind !== "TrackingServer");
    assert.equal(children.length, 6);
    for (const [kind, child] of children) assert.equal(child.inputs.metadata.annotations[OWNER_UID], mockUid("uid/ts"), kind);
    const claim = childrenOf("uid", "ts").PersistentVolumeClaim;
    assert.equal(claim.inputs.metadata.ownerReferences, undefined);
  });

  test("children are deletedWith the custom resource, whose delete removes them first (files source)", async () => {
    new TrackingServer("dw/ts", { object: trackingServer({ url: "http://m.example.com" }, "ts", "dw"), options, source: files });
    await settled();
    const children = childrenOf("dw", "ts");
    assert.equal(children.TrackingServer.inputs.metadata.annotations[DELETION_PROPAGATION], "foreground");
    const urn = `urn:pulumi:test::crdstack::crdstack:index:TrackingServer$kubernetes:experiment.aiscope/v1alpha2:TrackingServer::dw/ts`;
    for (const [kind, child] of Object.entries(children)) {
      if (kind !== "TrackingServer") assert.equal(deletedWith.get(`${child.type} ${child.name}`), urn, kind);
    }
  });

  test("a spec without secret fields stays readable", async () => {
    new TrackingServer("plain/ts", { object: trackingServer({ size: 0 }, "ts", "plain"), options, source: files });
    await settled();
    const paths: string[] = [];
    unwrapSecrets(childrenOf("plain", "ts").TrackingServer.inputs, "", paths);
    assert.deepEqual(paths, []);
  });

  test("an object found in the cluster is not created again, and owns its children by uid", async () => {
    new TrackingServer("found/ts", { object: trackingServer({}, "ts", "found"), options, source: { create: false, uid: "1234" } });
    await settled();
    const children = childrenOf("found", "ts");
    assert.equal(children.TrackingServer, undefined);
    assert.equal(children.Deployment.inputs.metadata.ownerReferences[0].uid, "1234");
    assert.equal(children.Deployment.inputs.metadata.annotations[OWNER_UID], "1234");
  });

  test("an object found in the cluster has an anchor its children are deletedWith", async () => {
    new TrackingServer("anchored/ts", { object: trackingServer({}, "ts", "anchored"), options, source: { create: false, uid: "5678" } });
    await settled();
    const anchor = registered.find((r) => r.name === "TrackingServer/anchored/ts" && r.type === "pulumi-nodejs:dynamic/crdstack:ObjectAnchor");
    assert.ok(anchor, "the anchor is registered");
    assert.deepEqual([anchor.inputs.kind, anchor.inputs.namespace, anchor.inputs.name, anchor.inputs.uid], ["TrackingServer", "anchored", "ts", "5678"]);
    const urn = "urn:pulumi:test::crdstack::crdstack:index:TrackingServer$pulumi-nodejs:dynamic/crdstack:ObjectAnchor::TrackingServer/anchored/ts";
    for (const [kind, child] of Object.entries(childrenOf("anchored", "ts"))) assert.equal(deletedWith.get(`${child.type} ${child.name}`), urn, kind);
  });
});

describe("EasyService component", () => {
  test("Deployment and NodePort Service with the ports", async () => {
    const service = new EasyService("es/web", { object: easyService({ size: 2, image: "nginx:1.7.9", ports: [{ port: 80, nodePort: 31002 }] }, "web", "es"), source: files });
    await settled();
    const children = childrenOf("es", "web");
    assert.deepEqual(Object.keys(children).sort(), ["Deployment", "EasyService", "Service"]);
    assert.equal(children.Service.inputs.spec.ports[0].nodePort, 31002);
    assert.equal(children.Deployment.inputs.spec.replicas, 2);
    assert.ok(service.service);
  });

  test("no ports, no Service", async () => {
    const service = new EasyService("es/worker", { object: easyService({ size: 1, image: "busybox" }, "worker", "es"), source: files });
    await settled();
    assert.deepEqual(Object.keys(childrenOf("es", "worker")).sort(), ["Deployment", "EasyService"]);
    assert.equal(service.service, undefined);
  });
});

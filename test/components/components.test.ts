import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mockUid, recordResources, Registered, settled, unwrapSecrets } from "../mocks";
const registered = recordResources();
import { EasyService } from "../../components/EasyService";
import { TrackingServer } from "../../components/TrackingServer";
import { easyService, PEM, trackingServer } from "../helpers";

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
    // The provider's Service and Ingress awaits may record a stale object; those two keep the apply's result.
    const skipsAwait = Object.entries(children).filter(([, child]) => child.inputs.metadata?.annotations?.["pulumi.com/skipAwait"] === "true").map(([kind]) => kind);
    assert.deepEqual(skipsAwait.sort(), ["Ingress", "Service"]);
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

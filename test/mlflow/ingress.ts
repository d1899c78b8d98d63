// An ingress controller on loopback for rendered Ingresses: it routes each request by its Host header and
// path the way the Ingress API defines it (the rule of the host, then the longest matching path; `Prefix`
// matches whole path elements), through the Service's port to the container's, and keeps the Host header.
// It is also an HTTP proxy, so a client given HTTP_PROXY reaches `http://<ingress host>/...` through it.
// TLS is not terminated: clients use http.
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { Manifest } from "./kubelet";

/** Where a Service's port leads: `(service name, service port name or number)` → a loopback port. */
export type Backends = (service: string, port: string | number) => number;

interface Route { host: string | undefined; path: string; exact: boolean; service: string; port: string | number }

function routesOf(ingresses: readonly Manifest[]): Route[] {
  return ingresses.flatMap((ingress) =>
    (ingress.spec.rules ?? []).flatMap((rule: Manifest) =>
      (rule.http?.paths ?? []).map((entry: Manifest) => ({
        host: rule.host,
        path: entry.path,
        exact: entry.pathType === "Exact",
        service: entry.backend.service.name,
        port: entry.backend.service.port.name ?? entry.backend.service.port.number,
      })),
    ),
  );
}

function matches(route: Route, requestPath: string): boolean {
  if (route.exact) return requestPath === route.path;
  const prefix = route.path.replace(/\/+$/, "");
  return prefix === "" || requestPath === prefix || requestPath.startsWith(`${prefix}/`);
}

/** The route a request takes: its host's rules, the longest matching path, Exact before Prefix. */
export function route(routes: readonly Route[], host: string, requestPath: string): Route | undefined {
  const candidates = routes.filter((r) => (r.host === undefined || r.host === host) && matches(r, requestPath));
  return candidates.sort((a, b) => b.path.length - a.path.length || Number(b.exact) - Number(a.exact))[0];
}

export interface IngressController { port: number; close(): Promise<void> }

export async function startIngress(ingresses: readonly Manifest[], backends: Backends): Promise<IngressController> {
  const routes = routesOf(ingresses);
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", `http://${request.headers.host ?? "unknown"}`);
    const chosen = route(routes, url.hostname, url.pathname);
    if (chosen === undefined) return void response.writeHead(404).end("default backend - 404");
    const upstream = http.request(
      { host: "127.0.0.1", port: backends(chosen.service, chosen.port), method: request.method, path: `${url.pathname}${url.search}`, headers: { ...request.headers, host: url.host } },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on("error", (error) => response.writeHead(502).end(`upstream: ${error.message}`));
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { parse as parseYaml } from "yaml";
import { agentEnvironment } from "../launcher/env.ts";

/** The service-account directory every pod gets (in-cluster configuration). */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** How to reach a Kubernetes API server. */
export interface KubeConnection {
  /** Base URL, e.g. `https://10.96.0.1:443`. */
  server: string;
  /** Where it came from, for log lines: `in-cluster` or the kubeconfig path. */
  source: string;
  /** CA certificates (PEM) to trust, besides the system ones. */
  caCerts: string[];
  /** A client certificate and key (PEM), when the user authenticates with one. */
  clientCert?: { cert: string; key: string };
  /**
   * The bearer token, read at each request: service-account tokens are rotated on disk (bound
   * tokens live an hour), so a token read once at start would expire.
   */
  token?: () => string | undefined;
  /** `Authorization: Basic` credentials, when the kubeconfig has a username and password. */
  basic?: string;
}

/** A kubeconfig or in-cluster setup that cannot be used; the message says why. */
export class KubeConfigError extends Error {
  /**
   * @param message The problem.
   * @param options The underlying error.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KubeConfigError";
  }
}

/** What {@link findKubeConnection} reads; tests replace it. */
export interface KubeEnvironment {
  /** Environment variables. */
  env: Record<string, string | undefined>;
  /** Reads a text file, or returns undefined when it does not exist. */
  readFile(path: string): string | undefined;
}

function readFileIfExists(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

function decodeBase64(s: string): string {
  return new TextDecoder().decode(
    Uint8Array.from(atob(s.replace(/\s+/g, "")), (c) => c.charCodeAt(0)),
  );
}

/**
 * Finds the API server the way client-go does for this agent: the in-cluster configuration when
 * `KUBERNETES_SERVICE_HOST` is set and the service-account token exists, else the current
 * context of `$KUBECONFIG` (the first file of the list that exists). Exec and auth-provider
 * plugins are not supported.
 *
 * @param environment Environment variables and file access.
 * @returns The connection, or undefined when neither is configured.
 * @throws {KubeConfigError} When a configuration exists but cannot be used.
 */
export function findKubeConnection(
  environment: KubeEnvironment = { env: agentEnvironment(), readFile: readFileIfExists },
): KubeConnection | undefined {
  const { env, readFile } = environment;
  const host = env.KUBERNETES_SERVICE_HOST;
  const tokenPath = `${SERVICE_ACCOUNT_DIR}/token`;
  if (host && readFile(tokenPath) !== undefined) {
    const port = env.KUBERNETES_SERVICE_PORT ?? "443";
    const ca = readFile(`${SERVICE_ACCOUNT_DIR}/ca.crt`);
    return {
      server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
      source: "in-cluster",
      caCerts: ca ? [ca] : [],
      token: () => readFile(tokenPath)?.trim(),
    };
  }
  const list = env.KUBECONFIG;
  if (!list) return undefined;
  for (const path of list.split(":").filter((p) => p !== "")) {
    const text = readFile(path);
    if (text === undefined) continue;
    return parseKubeconfig(text, path, readFile);
  }
  return undefined;
}

interface Named<T> {
  name?: string;
  cluster?: T;
  user?: T;
  context?: T;
}

/**
 * Reads the current context of a kubeconfig.
 *
 * @param text The file's YAML.
 * @param path Its path (relative certificate paths are relative to its directory).
 * @param readFile Reads referenced files.
 * @returns The connection of the current context.
 * @throws {KubeConfigError} When the file or its current context is unusable.
 */
export function parseKubeconfig(
  text: string,
  path: string,
  readFile: (path: string) => string | undefined = readFileIfExists,
): KubeConnection {
  const fail = (detail: string): never => {
    throw new KubeConfigError(`Cannot use kubeconfig "${path}": ${detail}`);
  };
  let doc: Record<string, unknown>;
  try {
    doc = (parseYaml(text) ?? {}) as Record<string, unknown>;
  } catch (e) {
    return fail(`invalid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  const resolve = (p: string) => (p.startsWith("/") ? p : `${dir}/${p}`);
  const file = (p: string, what: string): string =>
    readFile(resolve(p)) ?? fail(`${what} file "${resolve(p)}" does not exist`);
  const find = <T>(key: string, name: unknown, field: "cluster" | "user" | "context"): T => {
    const items = (doc[key] ?? []) as Named<T>[];
    const item = Array.isArray(items) ? items.find((i) => i?.name === name) : undefined;
    return (item?.[field] ?? fail(`${field} ${JSON.stringify(name)} is not defined`)) as T;
  };
  const current = doc["current-context"];
  if (typeof current !== "string" || current === "") fail("no current-context");
  const context = find<{ cluster?: string; user?: string }>("contexts", current, "context");
  const cluster = find<Record<string, unknown>>("clusters", context.cluster, "cluster");
  const server = cluster.server;
  if (typeof server !== "string" || !/^https?:\/\//.test(server)) {
    fail(`cluster ${JSON.stringify(context.cluster)} has no http(s) server`);
  }
  if (cluster["insecure-skip-tls-verify"] === true) {
    fail("insecure-skip-tls-verify is not supported; give the cluster's CA instead");
  }
  const caCerts: string[] = [];
  if (typeof cluster["certificate-authority-data"] === "string") {
    caCerts.push(decodeBase64(cluster["certificate-authority-data"]));
  } else if (typeof cluster["certificate-authority"] === "string") {
    caCerts.push(file(cluster["certificate-authority"], "certificate-authority"));
  }
  const conn: KubeConnection = {
    server: (server as string).replace(/\/+$/, ""),
    source: path,
    caCerts,
  };
  if (context.user === undefined) return conn;
  const user = find<Record<string, unknown>>("users", context.user, "user");
  if (user.exec !== undefined || user["auth-provider"] !== undefined) {
    fail(
      `user ${
        JSON.stringify(context.user)
      } uses an exec or auth-provider plugin, which is not supported`,
    );
  }
  const pem = (dataKey: string, fileKey: string): string | undefined => {
    if (typeof user[dataKey] === "string") return decodeBase64(user[dataKey] as string);
    if (typeof user[fileKey] === "string") return file(user[fileKey] as string, fileKey);
    return undefined;
  };
  const cert = pem("client-certificate-data", "client-certificate");
  const key = pem("client-key-data", "client-key");
  if (cert !== undefined && key !== undefined) conn.clientCert = { cert, key };
  else if (cert !== undefined || key !== undefined) {
    fail("a client certificate needs both certificate and key");
  }
  if (typeof user.token === "string" && user.token !== "") {
    const token = user.token;
    conn.token = () => token;
  } else if (typeof user.tokenFile === "string") {
    const tokenFile = resolve(user.tokenFile);
    conn.token = () => readFile(tokenFile)?.trim();
  }
  if (typeof user.username === "string" && typeof user.password === "string") {
    conn.basic = btoa(`${user.username}:${user.password}`);
  }
  return conn;
}

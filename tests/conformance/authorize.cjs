// Preloaded into the conformance suite (node --require): the suite has no option to send
// credentials, and Atrium's endpoints authenticate every request. So every request to the
// endpoint under test carries ATRIUM_CONFORMANCE_AUTHORIZATION as its Authorization header,
// unless it sets one itself; nothing else about a request changes. The suite sends through
// the global fetch, undici's request (its own copy, in the suite's node_modules, patched here
// before the suite imports it) and, for raw header tests, node:http.
"use strict";

const authorization = process.env.ATRIUM_CONFORMANCE_AUTHORIZATION;
const origin = process.env.ATRIUM_CONFORMANCE_ORIGIN;

function ours(url) {
  return String(url instanceof Request ? url.url : url).startsWith(origin);
}

function withCredentials(headers) {
  if (Object.keys(headers ?? {}).some((name) => name.toLowerCase() === "authorization")) {
    return headers;
  }
  return { ...headers, authorization };
}

if (authorization && origin) {
  const fetch = globalThis.fetch;
  globalThis.fetch = function fetchWithCredentials(input, init) {
    if (!ours(input)) {
      return fetch(input, init);
    }
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (!headers.has("authorization")) {
      headers.set("authorization", authorization);
    }
    return fetch(input, { ...init, headers });
  };

  const undici = require(require.resolve("undici", { paths: [process.argv[1]] }));
  const request = undici.request;
  undici.request = function requestWithCredentials(url, options = {}) {
    if (!ours(url)) {
      return request.call(this, url, options);
    }
    return request.call(this, url, { ...options, headers: withCredentials(options.headers) });
  };

  const http = require("node:http");
  const httpRequest = http.request;
  http.request = function httpRequestWithCredentials(options, ...rest) {
    if (typeof options !== "object" || options instanceof URL) {
      return httpRequest.call(this, options, ...rest);
    }
    const url = `http://${options.hostname ?? options.host}:${options.port ?? 80}${options.path ?? "/"}`;
    if (!ours(url)) {
      return httpRequest.call(this, options, ...rest);
    }
    return httpRequest.call(this, { ...options, headers: withCredentials(options.headers) }, ...rest);
  };
}

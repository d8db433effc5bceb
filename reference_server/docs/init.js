// Swagger UI for the document this server serves. A file of its own, not an inline script,
// so the page's Content-Security-Policy can allow scripts from this server only.
//
// Signed requests (the SERVICE class): under "hmacAuth" in Authorize a person enters
// ACCESS_KEY:SECRET_KEY; Swagger UI then puts that text in the Authorization header, and the
// request interceptor below replaces it with the four headers of a signed request, computed
// with Web Crypto. The secret stays in the page; only the signature is sent. Web Crypto needs
// a secure context: https, or http on localhost / 127.0.0.1.

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64(buffer) {
  return btoa(String.fromCharCode(...new Uint8Array(buffer)));
}

// The header names as Swagger UI set them (any case): find the Authorization entry.
function authorizationOf(headers) {
  const name = Object.keys(headers).find((k) => k.toLowerCase() === "authorization");
  return name === undefined ? [undefined, undefined] : [name, headers[name]];
}

// "ACCESS_KEY:SECRET_KEY" as entered in Authorize; a Bearer token or anything else is left alone.
function keyPair(value) {
  if (typeof value !== "string" || /^(bearer|hmac)\s/i.test(value)) return null;
  const colon = value.indexOf(":");
  if (colon < 1 || colon === value.length - 1 || /\s/.test(value)) return null;
  return { access: value.slice(0, colon), secret: value.slice(colon + 1) };
}

async function signRequest(request) {
  const [name, value] = authorizationOf(request.headers || {});
  const pair = keyPair(value);
  if (pair === null) return request;
  if (!(window.crypto && window.crypto.subtle)) {
    throw new Error("Signing needs Web Crypto: open this page over https or on localhost");
  }
  const encoder = new TextEncoder();
  const url = new URL(request.url, window.location.href);
  const body = typeof request.body === "string" ? request.body : "";
  const bodySha256 = body === "" ? EMPTY_SHA256
    : hex(await crypto.subtle.digest("SHA-256", encoder.encode(body)));
  const xDate = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const nonce = crypto.randomUUID();
  const text = [request.method.toUpperCase(), url.pathname, url.search.replace(/^\?/, ""),
    xDate, nonce, bodySha256].join("\n");
  const key = await crypto.subtle.importKey("raw", encoder.encode(pair.secret),
    { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const signature = base64(await crypto.subtle.sign("HMAC", key, encoder.encode(text)));
  delete request.headers[name];
  request.headers["Authorization"] = `HMAC ${pair.access}:${signature}`;
  request.headers["x-date"] = xDate;
  request.headers["x-nonce"] = nonce;
  request.headers["x-content-sha256"] = bodySha256;
  return request;
}

window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    displayRequestDuration: true,
    // Never sent to a third party: the default would fetch a badge from validator.swagger.io.
    validatorUrl: null,
    requestInterceptor: signRequest,
  });
});

// The page's only two requests, both to the public v1 API: what it does, any client can do.
// URLs are relative to the page, so it also works behind a proxy that adds a path prefix.

export class ApiError extends Error {
  // status 0: no answer at all (the service is down or the network is gone).
  constructor(status, message, retryAfterS = 1) {
    super(message);
    this.status = status;
    this.retryAfterS = retryAfterS;
  }
}

function authorization(key) {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function call(path, init) {
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, String(error));
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const retryAfterS = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
    throw new ApiError(response.status, body.error ?? response.statusText, retryAfterS > 0 ? retryAfterS : 1);
  }
  return body;
}

// POST /v1/describe: one multipart request for a group of files; results come back in their order.
export function describe(files, { lang, detail, key }) {
  const form = new FormData();
  for (const file of files) form.append("images", file, file.name);
  form.append("lang", lang);
  form.append("detail", detail);
  return call("v1/describe", { method: "POST", body: form, headers: authorization(key) });
}

// POST /v1/recommend: every candidate ranked (top_k = all of them), best first.
export function recommend(query, candidates, key) {
  return call("v1/recommend", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authorization(key) },
    body: JSON.stringify({ query, candidates, top_k: candidates.length }),
  });
}
